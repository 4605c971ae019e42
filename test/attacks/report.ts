import type { Message } from '../../core/message.js';
import type { Stub, StubContext } from '../../core/stub.js';

/**
 * What the attack stubs share (bundled into each; nothing is imported at run time). An attack
 * runs attempts; each either gets the power it is after (`true`: ESCAPED), is refused (it
 * throws: `blocked: ...`), or finds nothing (`false`: `no power`). The stub then answers an
 * `execute report` request with the outcomes, and echoes any other request, so the test can
 * also see that it still runs.
 */
export type Outcomes = Record<string, string>;

/** Runs one attempt and records its outcome. */
export function attempt(outcomes: Outcomes, name: string, fn: () => unknown): void {
  try {
    outcomes[name] = fn() === true ? 'ESCAPED' : 'no power';
  } catch (err) {
    outcomes[name] = `blocked: ${String((err as Error)?.message ?? err).slice(0, 200)}`;
  }
}

/** Runs an asynchronous attempt and records its outcome. */
export async function attemptAsync(
  outcomes: Outcomes,
  name: string,
  fn: () => Promise<unknown>,
): Promise<void> {
  try {
    outcomes[name] = (await fn()) === true ? 'ESCAPED' : 'no power';
  } catch (err) {
    outcomes[name] = `blocked: ${String((err as Error)?.message ?? err).slice(0, 200)}`;
  }
}

/** Answers a request from the stub's own address. */
export function answer(ctx: StubContext, msg: Message, code: number, value: unknown): void {
  ctx.send({ id: msg.id, type: 'response', from: msg.to, to: msg.from, body: { code, value } });
}

/**
 * A stub that answers `execute report` with `outcomes` and echoes everything else;
 * `onExecute` handles other `execute` methods first.
 */
export function reportingStub(
  ctx: StubContext,
  outcomes: Outcomes,
  onExecute?: (method: string, msg: Message) => boolean,
): Stub {
  ctx.status('live');
  return {
    postMessage(msg) {
      if (msg.type === 'response') return;
      if (msg.type === 'execute') {
        if (msg.body.method === 'report') return answer(ctx, msg, 200, outcomes);
        if (onExecute?.(msg.body.method, msg)) return;
      }
      answer(ctx, msg, 200, { echo: msg.body });
    },
    stop() {},
  };
}
