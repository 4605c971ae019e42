import { join } from 'node:path';
import type { ConformanceServer, StubConformanceOptions, TestRunner } from '../../entry/stub-testing.js';
import activate from '../../plugins/stubs/json-ws/index.js';
import { PROTOCOL } from '../../server/messaging-node/frames.js';
import { type TwoDomains, twoDomains } from './node-fixture.js';
import { stubFolder } from './packages.js';

const { manifest, bundle } = await stubFolder(join(import.meta.dirname, '../../plugins/stubs/json-ws'));
/** Short delays so reconnection happens within a test. */
const FAST = { reconnectDelayMs: 20, reconnectDelayMaxMs: 100, connectTimeoutMs: 2000 };
const ALICE = 'user://a.example/alice';
const BOB = 'user://b.example/bob';

/** What the node sends, one of each kind: the hostile server mutates them. */
const SAMPLES = [
  JSON.stringify({ t: 'ready', address: ALICE, hyperties: [] }),
  JSON.stringify({
    t: 'msg',
    m: { id: 'm1', type: 'create', from: BOB, to: ALICE, body: { value: { kind: 'chat', text: 'hi' } } },
  }),
  JSON.stringify({
    t: 'msg',
    m: { id: 'm2', type: 'response', from: BOB, to: ALICE, body: { code: 200, description: 'OK' } },
  }),
  JSON.stringify({ t: 'ack', ids: ['m1', 'm2'] }),
  JSON.stringify({ t: 'err', code: 'PF_ERR_FLOOD', message: 'slow down', id: 'm1' }),
  JSON.stringify({ t: 'pong' }),
];

export interface Node extends ConformanceServer {
  readonly domains: TwoDomains;
}

/**
 * The conformance options of json-ws against a real messaging node (b.example's; alice signs in
 * from a.example): what plugins/stubs/json-ws/conformance.test.ts runs, and what the broken
 * stubs of test/stub-conformance.test.ts are checked with.
 */
export function jsonWsConformance(runner: TestRunner): StubConformanceOptions<Node> {
  return {
    name: 'json-ws',
    activate,
    manifest,
    bundle,
    server: async () => {
      const domains = await twoDomains();
      return { domains, restart: async () => void (await domains.restart()), close: () => domains.close() };
    },
    users: [ALICE, BOB],
    context: async ({ domains }, address) => ({
      token: await domains.token(address),
      domain: 'b.example',
      config: { url: domains.node.url, ...FAST },
    }),
    // A token a.example issued for another audience: the node refuses it.
    refused: async ({ domains }, address) => ({
      token: await domains.a.issue(address, 300, 'c.example'),
      domain: 'b.example',
      config: { url: domains.node.url, ...FAST },
    }),
    hostile: {
      protocol: PROTOCOL,
      reply: (frame) =>
        frame.startsWith('{"t":"auth"') ? [SAMPLES[0]!] : frame === '{"t":"ping"}' ? ['{"t":"pong"}'] : [],
      samples: SAMPLES,
      context: (url) => ({ token: 'token', domain: 'b.example', config: { url, ...FAST } }),
    },
    offers: { calls: true, snapshot: true },
    runner,
  };
}
