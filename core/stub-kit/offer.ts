import type { Message } from '../message.js';
import type { StubContext } from '../stub.js';

/**
 * Puts `msg` from the far side on the runtime bus through `ctx`: `taken`; `refused` by this
 * instance for good (say, `msg.from` is not its peer: another instance, or the inbox, may take
 * it); or `busy` (PF_ERR_FLOOD, PF_ERR_QUEUE_FULL: the host or the runtime cannot take it now),
 * when the stub tries again later or answers the sender that the runtime is busy. A `ctx.send`
 * that throws has not taken the message; one that returns has.
 */
export function offer(ctx: StubContext, msg: Message): 'taken' | 'refused' | 'busy' {
  try {
    ctx.send(msg);
    return 'taken';
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    return code === 'PF_ERR_FLOOD' || code === 'PF_ERR_QUEUE_FULL' ? 'busy' : 'refused';
  }
}
