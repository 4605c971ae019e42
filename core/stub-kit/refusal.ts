import type { ErrorCode } from '../errors.js';

/**
 * The runtime's refusals of a socket that stand as long as it runs: outside the descriptor's
 * endpoints, outside its policy (plain `ws://` where it wants `wss://`, an address class it
 * refuses), a certificate it does not trust. A stub that meets one fails (passing the code on)
 * rather than reconnecting: the same socket would be refused again.
 */
const FINAL_REFUSALS: ReadonlySet<string> = new Set(['PF_ERR_ENDPOINT', 'PF_ERR_POLICY', 'PF_ERR_TLS']);

/** Whether `code` is one of the runtime's refusals that stand (as `ctx.connect` throws them too). */
export function refusedForGood(code: string): code is ErrorCode {
  return FINAL_REFUSALS.has(code);
}

/**
 * The code of the runtime's final refusal a socket closed with, if it was one. The host closes
 * a socket it refused with 1006 and the code as reason, a close no peer can send (RFC 6455
 * §7.4.1): neither the server nor the network can fake one.
 */
export function runtimeRefusal(code: number, reason: string): ErrorCode | undefined {
  return code === 1006 && refusedForGood(reason) ? reason : undefined;
}
