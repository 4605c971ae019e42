import { describe, expect, it } from 'vitest';
import type { Message } from '../../core/message.js';
import type { StubContext } from '../../core/stub.js';
import { FRAME_COST, type PackageLimits, type WorkerFrame } from '../channel.js';
import { DEFAULT_LIMITS } from '../defaults.js';
import { Supervisor } from './supervisor.js';

/**
 * A supervisor on a fake port, with one instance of a stub that, on each message, sends updates
 * until it has been refused `refusals` times; what it caught lands in `caught`.
 */
function flooding(
  refusals: number,
  limits: PackageLimits = DEFAULT_LIMITS,
): { supervisor: Supervisor; frames: WorkerFrame[]; caught: unknown[] } {
  const frames: WorkerFrame[] = [];
  const caught: unknown[] = [];
  const activate = (ctx: StubContext) => ({
    postMessage(m: Message) {
      const before = caught.length;
      for (let i = 0; caught.length - before < refusals; i++) {
        try {
          ctx.send({ id: `u${i}`, type: 'update', from: m.to, to: m.from, body: { value: i } });
        } catch (err) {
          caught.push(err);
        }
      }
    },
    stop() {},
  });
  const supervisor = new Supervisor({
    post: (frame) => frames.push(frame),
    // The package script's completion value: a factory in this realm, standing in for a compartment's.
    evaluate: () => (pkg: { exports: unknown }) => {
      pkg.exports = { default: activate };
    },
    harden: <T>(value: T) => Object.freeze(value),
    memory: () => ({ heap: 0, external: 0 }),
  });
  supervisor.receive({ t: 'init', limits: { ...DEFAULT_LIMITS, windowBytes: 2048 } });
  supervisor.receive({ t: 'load', pkg: 1, name: 'flood', script: '', endpoints: [], limits });
  supervisor.receive({
    t: 'activate',
    cid: 2,
    pkg: 1,
    session: 3,
    domain: 'a.example',
    identity: { address: 'user://a.example/alice' },
    config: {},
  });
  return { supervisor, frames, caught };
}

const execute: Message = {
  id: 'x',
  type: 'execute',
  from: 'user://b.example/bob',
  to: 'user://a.example/alice',
  body: { method: 'flood', params: {} },
};

describe('worker supervisor: a flooding stub', () => {
  it('is refused with one hardened error per episode, which the next ack ends', async () => {
    const { supervisor, frames, caught } = flooding(3);
    // activate settles a microtask later.
    await Promise.resolve();
    expect(frames.some((f) => f.t === 'activated')).toBe(true);
    supervisor.receive({ t: 'deliver', cid: 2, session: 3, json: JSON.stringify(execute) });

    // Refusing must cost next to nothing (a stub refused in a loop otherwise holds the worker
    // past its watchdog): every refusal of the episode is the same error, frozen.
    expect(caught).toHaveLength(3);
    const [first] = caught;
    expect((first as { code?: string }).code).toBe('PF_ERR_FLOOD');
    expect(caught.every((err) => err === first)).toBe(true);
    expect(Object.isFrozen(first)).toBe(true);
    expect(frames.filter((f) => f.t === 'flood')).toEqual([{ t: 'flood', cid: 2, what: 'send' }]);

    // The host acknowledges what it took: a new episode, with its own error and report.
    const sent = frames.filter((f) => f.t === 'send');
    const bytes = sent.reduce((sum, f) => sum + (f.t === 'send' ? FRAME_COST + f.json.length : 0), 0);
    supervisor.receive({ t: 'ack', session: 3, bytes });
    supervisor.receive({ t: 'deliver', cid: 2, session: 3, json: JSON.stringify({ ...execute, id: 'y' }) });
    expect(frames.filter((f) => f.t === 'send').length).toBeGreaterThan(sent.length);
    expect(caught).toHaveLength(6);
    expect(caught[3]).not.toBe(first);
    expect(caught.slice(3).every((err) => err === caught[3])).toBe(true);
    expect(frames.filter((f) => f.t === 'flood')).toHaveLength(2);
  });

  it('is held to the message rate its package was given, below the window', async () => {
    const { supervisor, frames, caught } = flooding(2, { ...DEFAULT_LIMITS, messagesPerSecond: 3 });
    await Promise.resolve();
    supervisor.receive({ t: 'deliver', cid: 2, session: 3, json: JSON.stringify(execute) });
    // A burst of one second's worth, then the same frozen refusal, reported once.
    expect(frames.filter((f) => f.t === 'send')).toHaveLength(3);
    expect(caught).toHaveLength(2);
    expect(caught[0]).toBe(caught[1]);
    expect((caught[0] as Error).message).toMatch(
      /PF_ERR_FLOOD: ctx.send refused: over 3 messages per second/,
    );
    expect(frames.filter((f) => f.t === 'flood')).toEqual([
      { t: 'flood', cid: 2, what: 'send (over 3 per second)' },
    ]);
  });
});
