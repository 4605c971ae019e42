import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ProtoflyError } from '../core/errors.js';
import { type Message, type ResponseMessage, request, response } from '../core/message.js';
import { Bus } from './bus.js';

const ALICE = 'hyperty://a.example/alice';
const BOB = 'hyperty://b.example/bob';
const chat = (text: string, from = ALICE, to = BOB) =>
  request('create', from, to, { value: { kind: 'chat', text } });
/** Lets queued deliveries run. */
const flush = () => new Promise<void>((r) => setImmediate(r));

describe('bus', () => {
  let errors: ProtoflyError[];
  let bus: Bus;
  beforeEach(() => {
    errors = [];
    bus = new Bus({ timeoutMs: 1000, onError: (e) => errors.push(e) });
  });
  afterEach(() => bus.close());

  it('delivers to exact listeners, asynchronously and in order', async () => {
    const got: string[] = [];
    bus.listen(BOB, (m) => got.push((m.body as { value: { text: string } }).value.text));
    bus.send(chat('1'));
    bus.send(chat('2'));
    expect(got).toEqual([]);
    await flush();
    expect(got).toEqual(['1', '2']);
  });

  it('prefers an exact listener, else the longest prefix', async () => {
    const got: string[] = [];
    bus.listenPrefix('hyperty://b.example', () => got.push('domain'));
    bus.listenPrefix('hyperty://', () => got.push('any'));
    bus.listen(BOB, () => got.push('bob'));
    bus.send(chat('x', ALICE, BOB));
    bus.send(chat('x', ALICE, 'hyperty://b.example/carol'));
    bus.send(chat('x', ALICE, 'hyperty://c.example/dave'));
    await flush();
    expect(got).toEqual(['bob', 'domain', 'any']);
  });

  it('does not let a prefix match inside a label', async () => {
    const got: Message[] = [];
    bus.listenPrefix('hyperty://b.example', (m) => got.push(m));
    const res = await bus.request(chat('x', ALICE, 'hyperty://b.example.evil/x'));
    expect(got).toEqual([]);
    expect(res.body.code).toBe(404);
  });

  it('stops delivering to a removed listener and drops its route', async () => {
    const got: Message[] = [];
    const off = bus.listen(BOB, (m) => got.push(m));
    off();
    expect(bus.stats().routes).toBe(0);
    const res = await bus.request(chat('late'));
    expect(got).toEqual([]);
    expect(res.body).toMatchObject({ code: 404, description: `no route to ${BOB}` });
  });

  it('correlates a response with its request', async () => {
    bus.listen(BOB, (m) => bus.send(response(m, 200, undefined, { echo: m.id })));
    const req = chat('hi');
    const res = await bus.request(req);
    expect(res).toMatchObject({
      id: req.id,
      from: BOB,
      to: ALICE,
      body: { code: 200, value: { echo: req.id } },
    });
    expect(bus.stats().pending).toBe(0);
  });

  it('settles a request only with a response from where it went: a forged one is refused, the real one settles', async () => {
    const MALLORY = 'user://c.example/mallory';
    let toBob: Message | undefined;
    bus.listen(BOB, (m) => {
      toBob = m;
    });
    const seen: ResponseMessage[] = [];
    const req = chat('hi');
    bus.send(req, (r) => seen.push(r));
    await flush();
    // Another domain's stub knows (or guessed) the id, and answers as itself, then as Alice.
    const forged = { ...response(toBob!, 200, 'forged'), from: MALLORY };
    bus.send(forged);
    bus.send({ ...forged, from: ALICE, body: { code: 100, description: 'forged' } });
    await flush();
    expect(seen).toEqual([]);
    expect(bus.stats().pending).toBe(1);
    expect(errors.map((e) => [e.code, e.detail.from, e.detail.expected])).toEqual([
      ['PF_ERR_SPOOF', MALLORY, BOB],
      ['PF_ERR_SPOOF', ALICE, BOB],
    ]);
    bus.send(response(toBob!, 200, 'real'));
    await flush();
    expect(seen.map((r) => [r.from, r.body.description])).toEqual([[BOB, 'real']]);
    expect(bus.stats().pending).toBe(0);
  });

  it('refuses an invalid message synchronously, naming the field', () => {
    expect(() => bus.send({ ...chat('x'), to: 'bob' } as Message)).toThrow(/PF_ERR_SCHEMA: message: \/to/);
  });

  it('keeps serving when a listener throws, and reports it', async () => {
    const got: Message[] = [];
    bus.listen(BOB, () => {
      throw new Error('boom');
    });
    bus.listen(BOB, (m) => got.push(m));
    expect(() => bus.send(chat('1'))).not.toThrow();
    await flush();
    expect(got).toHaveLength(1);
    expect(errors.map((e) => e.code)).toEqual(['PF_ERR_LISTENER']);
    expect(errors[0]!.message).toMatch(/boom/);
  });

  it('refuses with PF_ERR_QUEUE_FULL when a route is over its bound, and recovers', async () => {
    const small = new Bus({ queueLimit: 3, onError: (e) => errors.push(e) });
    const got: Message[] = [];
    small.listen(BOB, (m) => got.push(m));
    for (let i = 0; i < 3; i++) small.send(chat(String(i)));
    expect(() => small.send(chat('3'))).toThrow(
      /PF_ERR_QUEUE_FULL: route hyperty:\/\/b\.example\/bob holds 3/,
    );
    await flush();
    expect(got).toHaveLength(3);
    small.send(chat('4'));
    await flush();
    expect(got).toHaveLength(4);
    small.close();
  });

  it('reports a response nobody waits for instead of dropping it silently', async () => {
    bus.send(response(chat('x'), 200));
    await flush();
    expect(errors.map((e) => e.code)).toEqual(['PF_ERR_NO_ROUTE']);
  });

  it('closes: pending requests get 503, further sends throw PF_ERR_CLOSED', async () => {
    bus.listen(BOB, () => {});
    const pending = bus.request(chat('x'));
    await flush();
    bus.close();
    expect((await pending).body.code).toBe(503);
    expect(() => bus.send(chat('y'))).toThrow(/PF_ERR_CLOSED/);
  });

  describe('timeouts', () => {
    beforeEach(() => {
      vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    });
    afterEach(() => {
      vi.useRealTimers();
    });

    it('answers 408 when no response comes in time', async () => {
      bus.listen(BOB, () => {});
      const seen: ResponseMessage[] = [];
      const req = chat('x');
      bus.send(req, (r) => seen.push(r));
      await flush();
      vi.advanceTimersByTime(999);
      expect(seen).toEqual([]);
      vi.advanceTimersByTime(1);
      expect(seen).toHaveLength(1);
      expect(seen[0]).toMatchObject({ id: req.id, from: BOB, to: ALICE, body: { code: 408 } });
      expect(bus.stats().pending).toBe(0);
    });

    it('restarts the wait on a provisional 100, and delivers the final response', async () => {
      let req: Message | undefined;
      bus.listen(BOB, (m) => {
        req = m;
      });
      const seen: number[] = [];
      bus.send(chat('x'), (r) => seen.push(r.body.code));
      await flush();
      vi.advanceTimersByTime(800);
      bus.send(response(req!, 100));
      await flush();
      vi.advanceTimersByTime(800); // 1600 ms after the request: past the first deadline
      expect(seen).toEqual([100]);
      bus.send(response(req!, 200));
      await flush();
      expect(seen).toEqual([100, 200]);
      vi.advanceTimersByTime(5000);
      expect(seen).toEqual([100, 200]);
    });

    it('answers 408 a full timeout after the last provisional response', async () => {
      let req: Message | undefined;
      bus.listen(BOB, (m) => {
        req = m;
      });
      const seen: number[] = [];
      bus.send(chat('x'), (r) => seen.push(r.body.code));
      await flush();
      vi.advanceTimersByTime(800);
      bus.send(response(req!, 100));
      await flush();
      vi.advanceTimersByTime(999);
      expect(seen).toEqual([100]);
      vi.advanceTimersByTime(1);
      expect(seen).toEqual([100, 408]);
    });

    it('reports a response that comes after the 408 instead of delivering it twice', async () => {
      let req: Message | undefined;
      bus.listen(BOB, (m) => {
        req = m;
      });
      const seen: number[] = [];
      bus.send(chat('x'), (r) => seen.push(r.body.code));
      await flush();
      vi.advanceTimersByTime(1000);
      bus.send(response(req!, 200));
      await flush();
      expect(seen).toEqual([408]);
      expect(errors.map((e) => e.code)).toEqual(['PF_ERR_NO_ROUTE']);
    });
  });
});
