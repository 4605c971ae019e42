import type { Message } from '../message.js';
import { response } from '../response.js';
import type { StubContext } from '../stub.js';

/**
 * Answers `req` here, through `ctx`, with `code`: the stub's own final response to a request it
 * will not deliver (it cannot go: 503, 413; a withdrawal: 200, 404, 409), which goes back to the
 * sender as the far side's would; `value` says more (e.g. `UNKNOWN` of core/stub.ts: it went and no
 * answer will come). A response is never answered: one that cannot go is logged.
 * Never throws: a runtime that refuses the answer (its window toward the app is full, the
 * conversation ended) is logged, as nothing better is left to do with it.
 */
export function answer(
  ctx: StubContext,
  req: Message,
  code: number,
  description?: string,
  value?: unknown,
): void {
  if (req.type === 'response') {
    return ctx.log.warn('response not delivered', { id: req.id, code, description });
  }
  try {
    ctx.send(response(req, code, description, value));
  } catch (err) {
    ctx.log.warn('could not answer', { id: req.id, error: (err as Error).message });
  }
}
