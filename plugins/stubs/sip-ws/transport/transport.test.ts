import { afterEach, describe, expect, it, vi } from 'vitest';
import type { SocketDelegate, StubSocket } from '../../../../core/stub.js';
import { DirectContext, DirectSession } from '../../../../entry/stub-testing.js';
import activate from '../index.js';

/**
 * A context whose sockets close as the host closes one: at once, with `code` and `reason` after
 * an error saying why. The host closes a socket it refused with 1006 and the code, which no peer
 * can send; a server can send any other close, with any reason.
 */
class ClosingContext extends DirectContext {
  connects = 0;

  constructor(
    readonly code: number,
    readonly reason: string,
  ) {
    super({
      address: 'user://c.example/carol',
      domain: 'c.example',
      session: new DirectSession(),
      config: {
        url: 'wss://127.0.0.1:5061/',
        password: 'carol-pw',
        reconnectDelayMs: 1000,
        reconnectDelayMaxMs: 8000,
        randomizationFactor: 0,
      },
    });
  }

  override connect(url: string, _protocols: readonly string[], delegate: SocketDelegate): StubSocket {
    this.connects++;
    queueMicrotask(() => {
      delegate.onError?.(`${this.reason}: ${url}: the server's certificate is not trusted`);
      delegate.onClose?.(this.code, this.reason);
    });
    return { send() {}, close() {} };
  }
}

afterEach(() => {
  vi.useRealTimers();
});

/** Activates the stub on `ctx`, then runs ten minutes of its timers on the fake clock. */
async function tenMinutes(ctx: ClosingContext): Promise<void> {
  vi.useFakeTimers();
  const stub = await activate(ctx);
  await vi.advanceTimersByTimeAsync(10 * 60_000);
  await stub.stop();
}

describe('a socket the runtime refused', () => {
  it('fails the stub for good with the code (1006 and a final refusal): one connection, no retry', async () => {
    for (const code of ['PF_ERR_TLS', 'PF_ERR_POLICY', 'PF_ERR_ENDPOINT']) {
      const ctx = new ClosingContext(1006, code);
      await tenMinutes(ctx);
      expect(ctx.connects, code).toBe(1);
      expect(ctx.statuses).toContain('failed');
      // A stub may pass PF_ERR_TLS on (the far side's certificate); the policy's verdicts stay the runtime's.
      expect(ctx.failedWith).toBe(code === 'PF_ERR_TLS' ? 'PF_ERR_TLS' : undefined);
      vi.useRealTimers();
    }
  });

  it('a server closing with any other code, whatever its reason says, is a lost connection: reconnected', async () => {
    for (const [code, reason] of [
      [4000, 'PF_ERR_TLS'],
      [1011, 'PF_ERR_POLICY'],
      [1006, ''],
      [1006, 'PF_ERR_FLOOD'],
    ] as const) {
      const ctx = new ClosingContext(code, reason);
      await tenMinutes(ctx);
      expect(ctx.connects, `${code} ${reason}`).toBeGreaterThan(10);
      expect(ctx.statuses).not.toContain('failed');
      vi.useRealTimers();
    }
  });
});
