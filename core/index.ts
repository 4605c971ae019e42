/** protofly's core: the contracts and the pieces every runtime uses. Runs in Node and in browsers. */

export * from '../runtime/bus.js';
export * from '../server/services/service.js';
export * from './address.js';
export * from './errors.js';
export type * from './generated/types.js';
export * from './message.js';
export type * from './plugin.js';
export * from './stub.js';
export * from './validate.js';
