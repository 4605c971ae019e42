import { LocalCluster } from '../../../server/services/local-cluster.js';
import type { Backend } from '../../../server/services/service.js';

/** cluster-local: one node, offline messages held in its memory. */
const backend: Backend<'cluster'> = {
  service: 'cluster',
  create: (ctx) => new LocalCluster({ total: ctx.config.heldTotal as number }),
};
export default backend;
