import { LocalCluster } from '../../../core/local-cluster.js';
import type { Backend } from '../../../core/service.js';

/** cluster-local: one node, offline messages held in its memory. */
const backend: Backend<'cluster'> = {
  service: 'cluster',
  create: (ctx) => new LocalCluster({ total: ctx.config.heldTotal as number }),
};
export default backend;
