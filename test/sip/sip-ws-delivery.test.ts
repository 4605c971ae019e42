import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNodeRuntime, type NodeRuntime } from '../../entry/node-runtime.js';
import type { Conversation } from '../../runtime/conversation.js';
import { developmentPolicy } from '../../runtime/policy.js';
import { generateDomainKey } from '../../server/catalogue/keys.js';
import { type RunningSipDomain, startSipDomain } from '../../server/sip-domain.js';
import { type ScriptedSipServer, scriptedSipServer } from '../support/scripted-sip.js';

/**
 * What an app's send() over SIP means, end to end: c.example's published sip-ws stub, verified
 * and sandboxed in a runtime, in front of a scripted SIP server that answers (or not) as each
 * case needs. Resolved: the far side has it; PF_ERR_DELIVERY: it was not delivered; no answer
 * ever: PF_ERR_CONVERSATION with detail.unknown (runtime/conversation.ts).
 */

const CAROL = 'user://c.example/carol';
const DAVE = 'user://c.example/dave';
/** T1 of 10 ms: Timer F (64·T1) runs out in 640 ms of the worker's real clock. */
const T1 = 10;

let dir: string;
let server: ScriptedSipServer;
let sip: RunningSipDomain;
let carol: NodeRuntime;
let withDave: Conversation;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pf-sip-delivery-'));
  server = await scriptedSipServer();
  sip = await startSipDomain({
    domain: 'c.example',
    key: await generateDomainKey('c.example', join(dir, 'keys')),
    dataDir: dir,
    sipUrl: server.url,
    // No guests here: the guest service is never asked.
    rpcUrl: 'http://127.0.0.1:9/RPC',
  });
  carol = createNodeRuntime({
    policy: developmentPolicy,
    identity: { address: CAROL },
    catalogues: { 'c.example': sip.catalogueUrl },
    stubConfig: {
      'c.example': {
        password: 'carol-pw',
        t1Ms: T1,
        keepAliveMs: 0,
        reconnectDelayMs: 20,
        randomizationFactor: 0,
      },
    },
    dataDir: join(dir, 'runtime'),
  });
  withDave = await carol.runtime.conversation(DAVE, { capabilities: ['chat'] });
});
afterAll(async () => {
  await carol?.close();
  await sip?.close();
  await server?.close();
  await rm(dir, { recursive: true, force: true });
});

/** The nth MESSAGE the server got (from 0), and its text. */
const message = async (nth: number) => {
  const req = await server.request('MESSAGE', nth);
  return { req, text: req.body };
};

describe("an app's send() over SIP", () => {
  it('resolves with the far side’s 200; a 408 the far side sends rejects as not delivered', async () => {
    const ok = withDave.send('one');
    const first = await message(0);
    expect(first.text).toBe('one');
    server.reply(first.req, 200);
    expect((await ok).body.code).toBe(200);

    const refused = withDave.send('two');
    server.reply((await message(1)).req, 408);
    await expect(refused).rejects.toMatchObject({ code: 'PF_ERR_DELIVERY', detail: { code: 408 } });
  });

  it('a MESSAGE with no final response by Timer F rejects as unknown, not as not delivered', async () => {
    const silent = withDave.send('three');
    expect((await message(2)).text).toBe('three');
    const err = await silent.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ code: 'PF_ERR_CONVERSATION', detail: { unknown: true } });
    expect(err).not.toMatchObject({ code: 'PF_ERR_DELIVERY' });
  });

  it('send(text, { timeoutMs }) while the stub waits to register again: withdrawn, rejected, and never sent', async () => {
    server.registering = false;
    const unregistered = new Promise<void>((resolve) =>
      withDave.on('status', (s) => s === 'connecting' && resolve()),
    );
    server.drop();
    await unregistered;
    await expect(withDave.send('four', { timeoutMs: 50 })).rejects.toMatchObject({
      code: 'PF_ERR_DELIVERY',
      detail: { withdrawn: true },
    });
    const live = new Promise<void>((resolve) => withDave.on('status', (s) => s === 'live' && resolve()));
    server.registering = true;
    await live;
    const after = withDave.send('five');
    const next = await message(3);
    expect(next.text).toBe('five');
    server.reply(next.req, 200);
    expect((await after).body.code).toBe(200);
    expect(server.heard.some((t) => t.startsWith('MESSAGE ') && t.endsWith('\r\n\r\nfour'))).toBe(false);
  });
});
