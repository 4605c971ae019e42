import { MemoryLocation } from '../../../core/memory-location.js';
import type { Backend } from '../../../core/service.js';

/** location-memory: registrations in the node process's memory, found without waiting. */
const backend: Backend<'location'> = {
  service: 'location',
  create: (ctx) => new MemoryLocation({ retainMs: (ctx.config.retainSeconds as number) * 1000 }),
};
export default backend;
