import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { Bus } from '../runtime/bus.js';
import { developmentPolicy } from '../runtime/policy.js';
import type { SandboxLogger } from '../sandbox/host.js';
import { NodeWorkerHost } from '../sandbox/node/worker-host.js';
import { type ConverseOptions, converse, eventually, type TestConversation } from './support/conversation.js';
import { verifiedPackageOf } from './support/packages.js';

/**
 * Faults stay with their instance: conversations sharing a session (one socket, timed through
 * the first conversation's ctx) go on when that first one fails, and a new one joins them.
 */

const line = () => verifiedPackageOf(join(import.meta.dirname, 'stubs/shared-line'));

let wss: WebSocketServer;
let url: string;
const warnings: string[] = [];
const log: SandboxLogger = {
  debug: () => {},
  info: () => {},
  warn: (_fields, msg) => warnings.push(msg),
  error: (_fields, msg) => warnings.push(msg),
};

beforeAll(async () => {
  wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  wss.on('connection', (socket) => socket.on('message', (data) => socket.send(String(data))));
  await new Promise((resolve) => wss.once('listening', resolve));
  url = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/allowed`;
});

afterAll(() => new Promise((resolve) => wss.close(resolve)));

/** Says `text` on the shared line and waits for it to come back to `c`'s app. */
async function say(c: TestConversation, text: string): Promise<void> {
  expect((await c.execute('say', { text })).body.value).toBe('queued');
  await eventually(
    () => c.updates.some((m) => (m.body as { value: unknown }).value === text),
    `${text} comes back to ${c.peer}`,
  );
}

describe('a shared session when one of its conversations fails', () => {
  let host: NodeWorkerHost;
  let bus: Bus;
  beforeAll(async () => {
    host = new NodeWorkerHost({ policy: developmentPolicy, log });
    bus = new Bus({ timeoutMs: 10_000 });
    await host.ready();
  });
  afterAll(async () => {
    await host.terminate();
    bus.close();
  });

  it('keeps the others and a reopened one working: timers, socket and routing', async () => {
    // One identity: one session for the three.
    const options: ConverseOptions = { config: { url }, identity: 'user://a.example/ann' };
    const first = await converse(host, bus, await line(), options);
    const second = await converse(host, bus, await line(), options);
    await say(first, 'one');
    await say(second, 'two');
    // A timer of the first conversation's own, which will outlive it.
    expect((await first.execute('tick')).body.value).toBe('ticking');

    void first.execute('throw');
    await eventually(() => first.handle.status === 'failed', 'the first conversation fails');
    expect(first.statuses.at(-1)?.error).toMatchObject({
      code: 'PF_ERR_SANDBOX',
      detail: { where: 'postMessage' },
    });

    // The line's flush timer and socket were the first conversation's: they serve the session now.
    await say(second, 'three');
    const reopened = await converse(host, bus, await line(), options);
    await say(reopened, 'four');
    await say(second, 'five');
    // Its own ticking timer threw once its ctx was closed: reported, cleared, nobody failed.
    await eventually(
      () =>
        warnings.some((w) =>
          /a timer left to the session by ended conversation \d+ threw: .*PF_ERR_CLOSED/.test(w),
        ),
      'the orphaned timer is reported',
    );
    for (const c of [second, reopened]) {
      expect(c.handle.status).toBe('live');
      expect(c.statuses.map((s) => s.status)).toEqual(['live']);
      expect(c.refusals).toEqual([]);
    }
    expect(first.updates.filter((m) => (m.body as { value: unknown }).value !== 'tick').length).toBe(1);
  });

  it("refuses at once, in ctx.send, a message from another conversation's peer", async () => {
    const peerOf = (id: string) => `user://shared-line.test/${id}`;
    const open = async (id: string) =>
      converse(host, bus, await line(), {
        id,
        config: { url },
        identity: 'user://a.example/bea',
        from: [peerOf(id)],
      });
    const [one, two] = [await open('peer-one'), await open('peer-two')];
    expect((await two.execute('speakAs', { from: peerOf('peer-one') })).body.value).toBe('PF_ERR_SPOOF');
    expect((await two.execute('speakAs', { from: peerOf('peer-two') })).body.value).toBe('taken');
    await eventually(() => two.updates.length === 1, 'the update from its own peer arrives');
    expect([one.refusals, two.refusals]).toEqual([[], []]);
  });
});
