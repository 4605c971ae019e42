import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { ProtoflyError } from '../../core/errors.js';
import type { SocketDelegate, StubSocket } from '../../core/stub.js';
import { DirectContext, DirectSession } from '../../entry/stub-testing.js';
import activate from '../../plugins/stubs/sip-ws/index.js';
import { parse, type SipRequest } from '../../plugins/stubs/sip-ws/message/index.js';
import type { RuntimePolicy } from '../../runtime/policy.js';
import { generateDomainKey } from '../../server/catalogue/keys.js';
import { startSipDomain } from '../../server/sip-domain.js';
import { nextMessage, type SipWorld, startSipWorld } from '../support/sip-world.js';
import { makeTestCa, type TestCa } from '../support/test-ca.js';

/**
 * SIP over secure WebSocket (RFC 7118, `wss`) through a real Kamailio with TLS: c.example
 * publishes its wss listener, whose certificate a CA made for this run signed (no key is
 * committed). A runtime trusts that CA through its own policy (`tls.ca`), never through the
 * domain's descriptor, and allows no plain `ws://` (`endpoints.plainWebSocket` is left at
 * `never`); JsSIP is the peer, over wss too.
 */

const CAROL = 'user://c.example/carol';
const DAVE = 'user://c.example/dave';

let ca: TestCa;
let other: TestCa;
let world: SipWorld;

/** A careful runtime's policy: loopback (Kamailio is here), development keys (the test domain's), `ca` trusted, plain ws never. */
const policy = (trusted: readonly string[]): RuntimePolicy => ({
  endpoints: { addresses: ['loopback'] },
  developmentKeys: true,
  tls: { ca: [...trusted] },
});

beforeAll(async () => {
  [ca, other] = await Promise.all([makeTestCa('c.example'), makeTestCa('elsewhere')]);
  // a.example: a protofly domain whose user is c.example's guest.
  world = await startSipWorld({ carol: 'carol-pw', dave: 'dave-pw' }, ['a.example'], {
    tls: { certFile: ca.certFile, keyFile: ca.keyFile },
  });
});
/** What a test started beyond the world. */
const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  await world.reset();
  await Promise.all(cleanups.splice(0).map((c) => c()));
});
afterAll(async () => {
  await world?.close();
  await Promise.all([ca?.remove(), other?.remove()]);
});

/** Where Kamailio holds carol's binding: its socket says the transport it came over. */
async function binding(user: string): Promise<Record<string, unknown>> {
  const found = (await world.kamailio.rpc('ul.lookup', ['location', user])) as {
    Contacts: { Contact: Record<string, unknown> }[];
  };
  return found.Contacts[0]!.Contact;
}

/** A test context whose sockets trust `ca`, as a Node host does with the policy's `tls.ca`, and that keeps what the stub sends. */
class TrustingContext extends DirectContext {
  readonly sent: string[] = [];

  constructor(
    url: string,
    readonly ca: string,
  ) {
    super({
      address: CAROL,
      domain: 'c.example',
      session: new DirectSession(),
      config: { url, password: 'carol-pw' },
    });
  }

  override connect(url: string, protocols: readonly string[], delegate: SocketDelegate): StubSocket {
    const ws = new WebSocket(url, [...protocols], { ca: [this.ca] });
    ws.on('open', () => delegate.onOpen?.(ws.protocol));
    ws.on('message', (data) => delegate.onMessage(data.toString()));
    ws.on('error', (err) => delegate.onError?.(err.message));
    ws.on('close', (code, reason) => delegate.onClose?.(code, reason.toString()));
    return {
      send: (data) => {
        this.sent.push(data);
        ws.send(data);
      },
      close: (code, reason) => ws.close(code, reason),
    };
  }
}

describe('sip-ws over wss, with the CA in the runtime policy', () => {
  it('RFC 7118 §5 on the wire: Via SIP/2.0/WSS, Contact and Request-URI sip: with transport=ws', async () => {
    const ctx = new TrustingContext(world.kamailio.wssUrl!, ca.caPem);
    const stub = await activate(ctx);
    try {
      await ctx.until(() => ctx.statuses.includes('live'));
      const frame = ctx.sent.find((f) => f.startsWith('REGISTER '))!;
      // A SIP (not SIPS) Request-URI: only the first hop is secured here, and SIPS means every hop (RFC 5630).
      expect(frame.split('\r\n')[0]).toBe('REGISTER sip:c.example SIP/2.0');
      const register = parse(frame) as SipRequest;
      expect(register.via).toMatchObject({ transport: 'WSS' });
      expect(register.via.host).toMatch(/\.invalid$/);
      // No `wss` transport parameter exists: `ws` says WebSocket, the Via says it is secure.
      expect(register.headers.get('Contact')).toMatch(/^<sip:[^>]+\.invalid;transport=ws;ob>/);
    } finally {
      await stub.stop();
    }
  });

  it('publishes the wss listener', () => {
    expect(world.kamailio.wssUrl).toMatch(/^wss:\/\/127\.0\.0\.1:\d+$/);
    expect(world.sip.published.descriptor.configuration.defaults).toMatchObject({
      url: world.kamailio.wssUrl,
    });
  });

  it('registers over TLS (Via WSS, Contact transport=ws) and chats both ways with JsSIP over wss', async () => {
    const dave = await world.jssip('dave', { ca: ca.caPem });
    const carol = world.runtime(CAROL, { password: 'carol-pw', policy: policy([ca.caPem]) });
    await carol.runtime.register();
    const withDave = await carol.runtime.conversation(DAVE, { capabilities: ['chat'] });
    // Held until registered, then sent: its 200 says the binding is there.
    expect((await withDave.send('hello Dave, over wss')).body.code).toBe(200);
    expect(await dave.nextMessage()).toMatchObject({
      from: 'sip:carol@c.example',
      body: 'hello Dave, over wss',
    });
    // Kamailio took the REGISTER on its TLS socket; RFC 7118 §5.2: the Contact's transport
    // parameter is `ws` for wss too (the Via says WSS).
    const contact = await binding('carol');
    expect(String(contact.Address)).toMatch(/;transport=ws;ob/);
    expect(String(contact.Socket)).toMatch(/^tls:127\.0\.0\.1:\d+$/);

    const reply = nextMessage(withDave);
    expect(await dave.send('sip:carol@c.example', 'hello Carol, over wss')).toBe(200);
    expect((await reply).body).toEqual({ kind: 'chat', text: 'hello Carol, over wss' });
  });
});

describe('a guest over wss', () => {
  it('the guest service listens on wss too: a runtime that allows no plain ws is admitted as a guest', async () => {
    expect(world.sip.guestUrl).toMatch(/^wss:\/\/127\.0\.0\.1:\d+\/$/);
    expect(world.sip.published.descriptor.configuration.defaults).toMatchObject({
      guestUrl: world.sip.guestUrl,
    });
    const dave = await world.jssip('dave', { ca: ca.caPem });
    // plainWebSocket left at never: the guest service and Kamailio are both reached over TLS.
    const alice = world.runtime('user://a.example/alice', { policy: policy([ca.caPem]) });
    const withDave = await alice.runtime.conversation(DAVE, { capabilities: ['chat'] });
    expect((await withDave.send('hello Dave, a guest over wss')).body.code).toBe(200);
    expect(await dave.nextMessage()).toMatchObject({
      from: 'sip:alice~a.example@c.example',
      body: 'hello Dave, a guest over wss',
    });
    const reply = nextMessage(withDave);
    expect(await dave.send('sip:alice~a.example@c.example', 'hello Alice, over wss')).toBe(200);
    expect((await reply).body).toEqual({ kind: 'chat', text: 'hello Alice, over wss' });
  });
});

describe('what the runtime refuses', () => {
  // That the stub then stays failed, with no retry, is sip-ws/transport/transport.test.ts's.
  it('a certificate whose CA it does not trust: PF_ERR_TLS naming the URL and tls.ca', async () => {
    const carol = world.runtime(CAROL, { password: 'carol-pw', policy: policy([other.caPem]) });
    const err = (await carol.runtime
      .conversation(DAVE, { capabilities: ['chat'] })
      .catch((e: unknown) => e)) as ProtoflyError;
    expect(err.code, String(err)).toBe('PF_ERR_TLS');
    expect(err.message).toContain(`${world.kamailio.wssUrl}/: the server's certificate is not trusted`);
    expect(err.message).toContain('tls.ca');
  });

  it('no CA of its own: Node’s roots alone do not know the test CA', async () => {
    const carol = world.runtime(CAROL, { password: 'carol-pw', policy: policy([]) });
    await expect(carol.runtime.conversation(DAVE, { capabilities: ['chat'] })).rejects.toMatchObject({
      code: 'PF_ERR_TLS',
    });
  });

  it('plain ws:// to Kamailio when its policy leaves plainWebSocket at never: PF_ERR_POLICY naming the URL and the option', async () => {
    // The same Kamailio's plain listener, as a deployment publishing ws:// signs it.
    const dir = await mkdtemp(join(tmpdir(), 'pf-sip-plain-'));
    const plain = await startSipDomain({
      domain: 'c.example',
      key: await generateDomainKey('c.example', join(dir, 'keys')),
      dataDir: dir,
      sipUrl: world.kamailio.wsUrl,
      rpcUrl: world.kamailio.rpcUrl,
    });
    cleanups.push(async () => {
      await plain.close();
      await rm(dir, { recursive: true, force: true });
    });
    const carol = world.runtime(CAROL, {
      password: 'carol-pw',
      policy: policy([ca.caPem]),
      catalogues: { 'c.example': plain.catalogueUrl },
    });
    const err = (await carol.runtime
      .conversation(DAVE, { capabilities: ['chat'] })
      .catch((e: unknown) => e)) as ProtoflyError;
    expect(err.code, String(err)).toBe('PF_ERR_POLICY');
    expect(err.message).toContain(`may not open ${world.kamailio.wsUrl}/`);
    expect(err.message).toContain("endpoints.plainWebSocket is 'never'");
  });
});
