import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { request } from '../core/message.js';
import type { StubPackage } from '../core/plugin.js';
import { Bus } from '../runtime/bus.js';
import { developmentPolicy } from '../runtime/policy.js';
import type { SandboxLogger } from '../sandbox/host.js';
import { InlineHost } from '../sandbox/node/inline-host.js';
import { NodeWorkerHost } from '../sandbox/node/worker-host.js';
import { converse, eventually, type TestConversation } from './support/conversation.js';
import { verifiedPackageOf } from './support/packages.js';

/** The sandbox hosts with a well-behaved stub: every ctx capability across the boundary, and the host's own duties. */

const probe = () => verifiedPackageOf(join(import.meta.dirname, 'stubs/probe'));
const loop = () => verifiedPackageOf(join(import.meta.dirname, 'attacks/attack-loop'));

interface Line {
  level: string;
  fields: Record<string, unknown>;
  msg: string;
}

function capture(lines: Line[]): SandboxLogger {
  const at =
    (level: string) =>
    (fields: Record<string, unknown>, msg: string): void => {
      lines.push({ level, fields, msg });
    };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

const events = (c: TestConversation) => c.updates.map((m) => (m.body as { value: { event: string } }).value);

let wss: WebSocketServer;
let allowed: string;
const paths: string[] = [];
const closes: string[] = [];

beforeAll(async () => {
  wss = new WebSocketServer({
    host: '127.0.0.1',
    port: 0,
    handleProtocols: (protocols) => [...protocols][0] ?? false,
  });
  wss.on('connection', (socket, req) => {
    paths.push(req.url ?? '');
    socket.on('message', (data) => socket.send(`echo ${String(data)}`));
    socket.on('close', () => closes.push(req.url ?? ''));
  });
  await new Promise((resolve) => wss.once('listening', resolve));
  allowed = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/allowed`;
});

afterAll(() => new Promise((resolve) => wss.close(resolve)));

describe('NodeWorkerHost', () => {
  const lines: Line[] = [];
  let host: NodeWorkerHost;
  let bus: Bus;
  beforeAll(async () => {
    host = new NodeWorkerHost({ policy: developmentPolicy, log: capture(lines) });
    bus = new Bus();
    await host.ready();
  });
  afterAll(async () => {
    await host.terminate();
    bus.close();
  });

  it('runs a stub for a conversation: live, messages both ways through the bus, stop', async () => {
    const c = await converse(host, bus, await probe());
    expect((await c.echo('hello')).body).toMatchObject({
      code: 200,
      value: { echo: { value: { text: 'hello' } } },
    });
    expect(c.statuses.map((s) => s.status)).toEqual(['live']);
    // A clock and randomness are the only powers beyond the frozen intrinsics.
    expect((await c.execute('random')).body.value).toEqual(['number', 'number', 'string']);
    await c.handle.stop();
    expect(c.handle.status).toBe('stopped');
    expect(c.statuses.map((s) => s.status)).toEqual(['live', 'stopped']);
    expect(() => c.handle.postMessage(request('create', c.app, c.peer, { value: 1 }))).toThrow(
      /^PF_ERR_CLOSED: conversation conv\d+ \(probe\.test\/probe@1\.0\.0\) is stopped/,
    );
    c.detach();
  });

  it('evaluates a package once per version and activates it once per conversation', async () => {
    const a = await converse(host, bus, await probe());
    const b = await converse(host, bus, await probe());
    const first = (await a.execute('activations')).body.value as number;
    expect((await b.execute('activations')).body.value).toBe(first);
    const c = await converse(host, bus, await probe());
    expect((await c.execute('activations')).body.value).toBe(first + 1);
  });

  it('hands the stub its config and identity', async () => {
    const c = await converse(host, bus, await probe(), { config: { room: 'r1', limits: { n: 2 } } });
    expect((await c.execute('config')).body.value).toEqual({ room: 'r1', limits: { n: 2 } });
    expect((await c.execute('identity')).body.value).toEqual({
      address: 'user://a.example/alice',
      token: 'token',
    });
  });

  it('tells the stub of a conversation its peer, and an inbox that it has none', async () => {
    const inbox = await converse(host, bus, await probe());
    expect((await inbox.execute('peer')).body.value).toBeNull();
    const pkg = await probe();
    const peer = `user://${pkg.descriptor.domain}/peered`;
    const c = await converse(host, bus, pkg, { id: 'peered', from: [peer] });
    expect((await c.execute('peer')).body.value).toBe(peer);
  });

  it('shares ctx.session per package, domain and identity, for as long as one of its conversations lives', async () => {
    const a = await converse(host, bus, await probe(), { identity: 'user://a.example/ann' });
    const b = await converse(host, bus, await probe(), { identity: 'user://a.example/ann' });
    const other = await converse(host, bus, await probe(), { identity: 'user://a.example/zed' });
    await a.execute('sessionSet', { key: 'k', value: { n: 1 } });
    expect((await b.execute('sessionGet', { key: 'k' })).body.value).toEqual({ n: 1 });
    expect((await other.execute('sessionGet', { key: 'k' })).body.value).toBeNull();
    await a.handle.stop();
    expect((await b.execute('sessionGet', { key: 'k' })).body.value).toEqual({ n: 1 });
    await b.handle.stop();
    const later = await converse(host, bus, await probe(), { identity: 'user://a.example/ann' });
    expect((await later.execute('sessionGet', { key: 'k' })).body.value).toBeNull();
  });

  it('runs timers, clears one on request, and all of them when the stub stops', async () => {
    const c = await converse(host, bus, await probe());
    const cleared = (await c.execute('timer', { ms: 5, repeat: true })).body.value;
    await c.execute('clearTimer', { id: cleared });
    await c.execute('timer', { ms: 5, repeat: true });
    await eventually(() => c.updates.length >= 3, 'three ticks');
    await c.handle.stop();
    const ticks = c.updates.length;
    // A timer of the same period, started after the stop, ticks three times: one the stop left would have ticked meanwhile.
    const witness = await converse(host, bus, await probe());
    await witness.execute('timer', { ms: 5, repeat: true });
    await eventually(() => witness.updates.length >= 3, 'three ticks of the witness');
    expect(c.updates.length).toBe(ticks);
    await witness.handle.stop();
  });

  it('opens a WebSocket in the allow-list for the stub, and closes it when its session ends', async () => {
    paths.length = 0;
    closes.length = 0;
    // An identity of its own: the session, and so the socket, ends with this conversation.
    const c = await converse(host, bus, await probe(), { identity: 'user://a.example/sol' });
    expect((await c.execute('connect', { url: allowed, protocols: ['test.v1'] })).body.value).toBe(
      'connecting',
    );
    await eventually(() => events(c).some((e) => e.event === 'open'), 'the socket opens');
    expect(events(c)[0]).toEqual({ event: 'open', protocol: 'test.v1' });
    await c.execute('socketSend', { data: 'ping' });
    await eventually(() => events(c).some((e) => e.event === 'message'), 'the server answers');
    expect(events(c)[1]).toEqual({ event: 'message', data: 'echo ping' });

    const refused = await c.execute('connect', { url: allowed.replace('/allowed', '/forbidden') });
    expect(refused.body).toMatchObject({ code: 500, value: { code: 'PF_ERR_ENDPOINT' } });
    expect(paths).toEqual(['/allowed']);

    await c.handle.stop();
    await eventually(() => closes.length === 1, 'the server sees the socket close');
  });

  it('lets the stub close its socket and tells it', async () => {
    const c = await converse(host, bus, await probe());
    await c.execute('connect', { url: allowed });
    await eventually(() => events(c).some((e) => e.event === 'open'), 'the socket opens');
    await c.execute('socketClose');
    await eventually(() => events(c).some((e) => e.event === 'close'), 'the close is reported');
    expect(events(c).at(-1)).toEqual({ event: 'close', code: 1000, reason: 'bye' });
    expect((await c.execute('socketSend', { data: 'late' })).body).toMatchObject({
      code: 500,
      value: { code: 'PF_ERR_CLOSED' },
    });
  });

  it('logs what the stub logs, tagged with the stub and the conversation', async () => {
    const c = await converse(host, bus, await probe());
    await c.execute('log', { text: 'hello', n: 1 });
    await eventually(() => lines.some((l) => l.msg === 'hello 0'), 'the line arrives');
    expect(lines.find((l) => l.msg === 'hello 0')).toEqual({
      level: 'info',
      fields: { stub: 'probe.test/probe@1.0.0', conversation: c.handle.id, data: '{"i":0}' },
      msg: 'hello 0',
    });
  });

  it('reports status transitions and refuses ones the lifecycle does not allow', async () => {
    const c = await converse(host, bus, await probe());
    await c.execute('status', { status: 'disconnected' });
    await c.execute('status', { status: 'live' });
    const refused = await c.execute('status', { status: 'created' });
    expect(refused.body).toMatchObject({ code: 500, value: { code: 'PF_ERR_STATUS' } });
    expect(c.statuses.map((s) => s.status)).toEqual(['live', 'disconnected', 'live']);
    expect(c.handle.status).toBe('live');
  });

  it('passes a failure with a stub-facing code to the app as that code, the stub named', async () => {
    const c = await converse(host, bus, await probe());
    await c.execute('fail', { code: 'PF_ERR_AUTH', detail: 'PF_ERR_AUTH: the registrar refused alice' });
    // Failed, then stopped by the host: the failure is in the statuses reported, in order.
    await eventually(() => c.statuses.some((s) => s.status === 'failed'), 'the stub fails');
    const failed = c.statuses.find((s) => s.status === 'failed')!;
    expect(failed.status).toBe('failed');
    expect(failed.error?.code).toBe('PF_ERR_AUTH');
    // The code once, though the stub passed a coded error's message.
    expect(failed.error?.message).toBe(
      'PF_ERR_AUTH: stub probe.test/probe@1.0.0: the registrar refused alice',
    );
  });

  it("refuses a code that is not a stub's (a forged runtime verdict) or one given with another status", async () => {
    const c = await converse(host, bus, await probe());
    for (const params of [
      { status: 'failed', code: 'PF_ERR_POLICY' },
      { status: 'failed', code: 'toString' },
      { status: 'disconnected', code: 'PF_ERR_AUTH' },
    ]) {
      const refused = await c.execute('status', params);
      expect(refused.body).toMatchObject({ code: 500, value: { code: 'PF_ERR_STATUS' } });
    }
    expect(c.handle.status).toBe('live');
    expect(c.statuses.map((s) => s.status)).toEqual(['live']);
  });

  it("takes the stub's snapshot as JSON", async () => {
    const c = await converse(host, bus, await probe());
    await c.echo('one');
    expect(await c.handle.snapshot()).toEqual({ delivered: 1 });
  });

  it('refuses a package made for another runtime', async () => {
    const pkg = await probe();
    const browserOnly: StubPackage = {
      ...pkg,
      descriptor: {
        ...pkg.descriptor,
        version: '9.0.0',
        constraints: { ...pkg.descriptor.constraints, runtimes: ['browser'] },
      },
    };
    await expect(converse(host, bus, browserOnly)).rejects.toThrow(
      'PF_ERR_SANDBOX: package probe.test/probe@9.0.0 runs on browser, not on node',
    );
  });
});

describe('NodeWorkerHost limits and policies', () => {
  it('refuses deliveries beyond the window with PF_ERR_QUEUE_FULL, and delivers every one it took', async () => {
    const host = new NodeWorkerHost({ policy: developmentPolicy, limits: { windowBytes: 8192 } });
    const bus = new Bus();
    try {
      const c = await converse(host, bus, await probe());
      let taken = 0;
      let error: unknown;
      for (let i = 0; i < 100 && !error; i++) {
        try {
          c.handle.postMessage(request('update', c.app, c.peer, { value: 'x'.repeat(1000) }));
          taken += 1;
        } catch (err) {
          error = err;
        }
      }
      expect(error).toMatchObject({ code: 'PF_ERR_QUEUE_FULL' });
      expect(taken).toBeGreaterThan(0);
      expect(taken).toBeLessThan(9);
      expect((await c.execute('delivered')).body.value).toBe(taken + 1);
    } finally {
      await host.terminate();
      bus.close();
    }
  });

  it('restarts after a crash, and gives each package that shared the crashed worker a worker of its own', async () => {
    const lines: Line[] = [];
    const host = new NodeWorkerHost({
      policy: developmentPolicy,
      watchdogMs: 500,
      shareKey: () => 'everyone',
      log: capture(lines),
    });
    const bus = new Bus({ onError: () => {} });
    try {
      const good = await converse(host, bus, await probe());
      const bad = await converse(host, bus, await loop());
      void bad.execute('spin');
      await eventually(() => good.handle.status === 'failed', 'the shared worker ends');
      expect(good.statuses.at(-1)?.error?.code).toBe('PF_ERR_WATCHDOG');
      expect(good.statuses.at(-1)?.error?.message).toMatch(
        /\(probe\.test\/probe, attack-loop\.test\/attack-loop\)/,
      );

      const again = await converse(host, bus, await probe());
      const badAgain = await converse(host, bus, await loop());
      void badAgain.execute('spin');
      await eventually(() => badAgain.handle.status === 'failed', 'the loop ends its own worker');
      expect(badAgain.statuses.at(-1)?.error?.message).toMatch(/\(attack-loop\.test\/attack-loop\)/);
      expect((await again.echo('alive')).body.code).toBe(200);
      expect(again.handle.status).toBe('live');
    } finally {
      await host.terminate();
      bus.close();
    }
  });

  it('ends a worker that has been idle, and evaluates its packages afresh when asked again', async () => {
    const lines: Line[] = [];
    const host = new NodeWorkerHost({
      policy: developmentPolicy,
      idleMs: 100,
      watchdogMs: 200,
      log: capture(lines),
    });
    const bus = new Bus();
    try {
      const first = await converse(host, bus, await probe());
      expect((await first.execute('activations')).body.value).toBe(1);
      await first.handle.stop();
      await eventually(() => lines.some((l) => /was idle for 100 ms/.test(l.msg)), 'the idle worker ends');
      const later = await converse(host, bus, await probe());
      expect((await later.execute('activations')).body.value).toBe(1);
    } finally {
      await host.terminate();
      bus.close();
    }
  });

  it('stops every conversation when terminated, and takes no more', async () => {
    const host = new NodeWorkerHost({ policy: developmentPolicy });
    const bus = new Bus();
    const a = await converse(host, bus, await probe());
    const b = await converse(host, bus, await probe());
    await host.terminate();
    expect([a.handle.status, b.handle.status]).toEqual(['stopped', 'stopped']);
    await expect(converse(host, bus, await probe())).rejects.toThrow('PF_ERR_CLOSED');
    bus.close();
  });
});

describe('InlineHost', () => {
  it('refuses a package from a domain its options do not trust, and says loudly what it is', async () => {
    const lines: Line[] = [];
    const host = new InlineHost({
      policy: developmentPolicy,
      trustedDomains: ['dev.example'],
      log: capture(lines),
    });
    expect(lines[0]).toMatchObject({ level: 'warn', msg: expect.stringMatching(/NO isolation/) });
    const bus = new Bus();
    await expect(converse(host, bus, await probe())).rejects.toThrow(
      'PF_ERR_UNTRUSTED_DOMAIN: the inline host refuses probe.test/probe@1.0.0: domain probe.test is not in its trustedDomains (dev.example)',
    );
    await host.terminate();
    bus.close();
  });

  it('runs a trusted stub with the same ctx and checks as a worker', async () => {
    const lines: Line[] = [];
    const host = new InlineHost({
      policy: developmentPolicy,
      trustedDomains: ['probe.test'],
      log: capture(lines),
    });
    const bus = new Bus();
    try {
      const c = await converse(host, bus, await probe());
      expect(
        lines.some((l) => /INLINE SANDBOX: running probe\.test\/probe@1\.0\.0 unisolated/.test(l.msg)),
      ).toBe(true);
      expect((await c.echo('inline')).body.code).toBe(200);
      expect((await c.execute('config')).body.value).toEqual({});
      const refused = await c.execute('connect', { url: 'ws://127.0.0.1:1/forbidden' });
      expect(refused.body).toMatchObject({ code: 500, value: { code: 'PF_ERR_ENDPOINT' } });
      await c.handle.stop();
      expect(c.handle.status).toBe('stopped');
    } finally {
      await host.terminate();
      bus.close();
    }
  });
});
