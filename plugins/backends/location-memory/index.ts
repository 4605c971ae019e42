import { MemoryLocation } from '../../../server/services/memory-location.js';
import type { Backend } from '../../../server/services/service.js';

/** location-memory: bindings in the node process's memory, found without waiting. */
const backend: Backend<'location'> = {
  service: 'location',
  create: (ctx) => new MemoryLocation({ retainMs: (ctx.config.retainSeconds as number) * 1000 }),
};
export default backend;
