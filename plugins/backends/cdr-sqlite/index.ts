import { resolve } from 'node:path';
import type { Backend } from '../../../server/services/service.js';
import { SqliteCdr } from './sqlite-cdr.js';

/** cdr-sqlite: detail records in an SQLite file of the domain's data directory. */
const backend: Backend<'cdr'> = {
  service: 'cdr',
  create: (ctx) =>
    new SqliteCdr(resolve(ctx.dataDir, ctx.config.database as string), {
      busyTimeoutMs: ctx.config.busyTimeoutMs as number,
      readonly: ctx.config.readonly as boolean,
    }),
};
export default backend;
