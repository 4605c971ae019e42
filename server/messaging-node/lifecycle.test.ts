import { afterEach, describe, expect, it, vi } from 'vitest';
import { request } from '../../core/message.js';
import { JsonWsClient } from '../../test/support/json-ws-client.js';
import { type TwoDomains, twoDomains } from '../../test/support/node-fixture.js';
import { silentWebSocket } from '../../test/support/silent-ws.js';

const ALICE = 'user://a.example/alice';
const BOB = 'user://b.example/bob';
const CAROL = 'user://b.example/carol';
const chat = (from: string, to: string, text = 'hi') =>
  request('create', from, to, { value: { kind: 'chat', text } });

let domains: TwoDomains;
afterEach(async () => {
  await domains?.close();
  vi.useRealTimers();
});

describe('messaging node: health, metrics, heartbeat, shutdown', () => {
  it('reports health as JSON on the admin port', async () => {
    domains = await twoDomains();
    await JsonWsClient.ready(domains.node.url, await domains.token(ALICE));
    const res = await fetch(`${domains.node.adminUrl}/health`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      ok: true,
      status: 'serving',
      domain: 'b.example',
      node: 'local',
      connections: 1,
    });
    expect((await fetch(`${domains.node.adminUrl}/nope`)).status).toBe(404);
  });

  it('counts connections, messages, acks, stored messages and refusals by code in Prometheus text', async () => {
    domains = await twoDomains();
    const alice = await JsonWsClient.ready(domains.node.url, await domains.token(ALICE));
    const bob = await JsonWsClient.ready(domains.node.url, await domains.token(BOB));
    const sent = [chat(ALICE, BOB), chat(ALICE, BOB), chat(ALICE, CAROL), chat(BOB, BOB)];
    for (const m of sent) alice.msg(m);
    alice.send('junk');
    await alice.take((f) => f.t === 'err' && f.code === 'PF_ERR_FRAME');
    await bob.take((f) => f.t === 'msg' && f.m.id === sent[1]!.id);
    const res = await fetch(`${domains.node.adminUrl}/metrics`);
    expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    const text = await res.text();
    const sample = (name: string) =>
      text.match(new RegExp(`^${name.replace(/[{}]/g, '\\$&')} (\\d+)$`, 'm'))?.[1];
    expect(sample('protofly_node_connections')).toBe('2');
    expect(sample('protofly_node_messages_in_total')).toBe('4');
    expect(sample('protofly_node_messages_out_total')).toBe('2');
    expect(sample('protofly_node_acks_total')).toBe('3');
    expect(sample('protofly_node_stored_total')).toBe('1');
    expect(sample('protofly_node_stored_messages')).toBe('1');
    expect(sample('protofly_node_refused_total{code="PF_ERR_SPOOF"}')).toBe('1');
    expect(sample('protofly_node_refused_total{code="PF_ERR_FRAME"}')).toBe('1');
    expect(text).toContain('# TYPE protofly_node_refused_total counter\n');
    expect(text).toContain('# TYPE protofly_node_connections gauge\n');
  });

  it('answers a json-ws ping with a pong, before and after auth', async () => {
    domains = await twoDomains();
    const early = new JsonWsClient(domains.node.url);
    await early.opened();
    early.send({ t: 'ping' });
    expect(await early.take((f) => f.t === 'pong')).toEqual({ t: 'pong' });
    const alice = await JsonWsClient.ready(domains.node.url, await domains.token(ALICE));
    alice.send({ t: 'ping' });
    alice.send({ t: 'ping' });
    await alice.take((f) => f.t === 'pong');
    await alice.take((f) => f.t === 'pong');
    expect(alice.frames.filter((f) => f.t === 'err')).toEqual([]);
  });

  it('cuts a peer that stops answering pings (heartbeat on a fake clock)', async () => {
    // The heartbeat's interval on vitest's clock: a beat comes when the test says, never because the machine was slow.
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    domains = await twoDomains({ heartbeatMs: 50 });
    const deaf = new JsonWsClient(domains.node.url, { autoPong: false });
    await deaf.opened();
    const alive = await JsonWsClient.ready(domains.node.url, await domains.token(BOB));
    /** One beat, done once the node has read alive's pong: its answer to a frame sent after the pong. */
    const beat = async () => {
      const pinged = new Promise((r) => alive.ws.once('ping', r));
      vi.advanceTimersByTime(50);
      await pinged;
      alive.send({ t: 'ping' });
      await alive.take((f) => f.t === 'pong');
    };
    await beat();
    expect(deaf.ws.readyState).toBe(deaf.ws.OPEN); // pinged once, not yet late
    await beat();
    expect((await deaf.closed).code).toBe(1006); // terminated: no close frame
    for (let i = 0; i < 4; i++) await beat();
    expect(alive.ws.readyState).toBe(alive.ws.OPEN);
    expect(domains.node.connections).toBe(1);
  });

  it('tells every client to reconnect with 1012 on shutdown, then stops listening', async () => {
    domains = await twoDomains();
    const alice = await JsonWsClient.ready(domains.node.url, await domains.token(ALICE));
    const fresh = new JsonWsClient(domains.node.url);
    await fresh.opened();
    const { node } = domains;
    await node.close();
    expect(await alice.closed).toEqual({ code: 1012, reason: 'service restart' });
    expect(await fresh.closed).toEqual({ code: 1012, reason: 'service restart' });
    const late = new JsonWsClient(node.url);
    expect(await late.closed).toMatchObject({ code: 1006 });
    await expect(fetch(`${node.adminUrl}/health`)).rejects.toThrow();
  });

  it('drains on shutdown: /health says draining (503), the client port refuses, and a client that never leaves is cut after shutdownGraceMs (fake clock)', async () => {
    domains = await twoDomains({ shutdownGraceMs: 1000, authTimeoutMs: 600_000 });
    const { node } = domains;
    const silent = await silentWebSocket(node.port);
    const gone = new Promise((resolve) => silent.once('close', resolve));
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const closed = node.close();
    const health = await fetch(`${node.adminUrl}/health`);
    expect(health.status).toBe(503);
    expect(await health.json()).toMatchObject({ ok: false, status: 'draining', connections: 1 });
    expect(await new JsonWsClient(node.url).closed).toMatchObject({ code: 1006 });
    vi.advanceTimersByTime(999);
    expect(node.connections).toBe(1);
    vi.advanceTimersByTime(1);
    await gone;
    await closed;
    expect(node.connections).toBe(0);
  });
});
