import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from '../../core/message.js';
import type { SocketDelegate, StubSocket } from '../../core/stub.js';
import { DirectContext, DirectSession } from '../../entry/stub-testing.js';
import activate from '../../plugins/stubs/xmpp-ws/index.js';
import { developmentPolicy } from '../../runtime/policy.js';
import { NodeWorkerHost } from '../../sandbox/node/worker-host.js';
import { generateDomainKey } from '../../server/catalogue/keys.js';
import { accountName, type Prosody, startProsody } from '../../server/prosody.js';
import { type RunningXmppDomain, startXmppDomain, XMPP_WS_STUB } from '../../server/xmpp-domain.js';
import { type Domains, startDomains } from '../support/domains.js';
import { gone } from '../support/files.js';
import { nextMessage } from '../support/sip-world.js';
import { startXmppUser } from '../support/xmpp-world.js';

/**
 * A user of a.example reaches x.example's XMPP users through x.example's own xmpp-ws stub: the
 * stub asks x.example's guest service for an account with the runtime's a.example token and logs
 * in to Prosody as `alice~a.example` (server/xmpp-guest/README.md), as sip-ws does with Kamailio.
 */

const DOMAIN = 'x.example';
const ALICE = 'user://a.example/alice';
const ERIN = `user://${DOMAIN}/erin`;
const GUEST = `alice~a.example@${DOMAIN}`;
const DEFAULTS = JSON.parse(readFileSync(join(XMPP_WS_STUB, 'protofly.json'), 'utf8')).configuration.defaults;
const FAST = { reconnectDelayMs: 50, reconnectDelayMaxMs: 200, randomizationFactor: 0 };

let dir: string;
let domains: Domains;
let prosody: Prosody;
let xmpp: RunningXmppDomain;
let host: NodeWorkerHost;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pf-xmpp-guest-'));
  domains = await startDomains(['a.example']);
  prosody = await startProsody({ domain: DOMAIN, users: { erin: 'erin-pw' } });
  xmpp = await startXmppDomain({
    domain: DOMAIN,
    key: await generateDomainKey(DOMAIN, join(dir, 'keys')),
    dataDir: dir,
    xmppUrl: prosody.wsUrl,
    accountsDir: prosody.accountsDir,
    peers: domains.catalogues,
  });
  (domains.catalogues as Record<string, string>)[DOMAIN] = xmpp.catalogueUrl;
  host = new NodeWorkerHost({ policy: developmentPolicy });
  await host.ready();
});
afterAll(async () => {
  await host?.terminate();
  await domains?.close();
  await xmpp?.close();
  await prosody?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('xmpp-ws as a guest of an XMPP domain', () => {
  it('a runtime of a.example logs in as alice~a.example, chats both ways with a Prosody user, and its account is gone once it closes', async () => {
    const erin = await startXmppUser(prosody.wsUrl, 'erin', 'erin-pw');
    const alice = domains.runtime(ALICE, { host, stubConfig: { [DOMAIN]: FAST } });
    try {
      const withErin = await alice.runtime.conversation(ERIN, { capabilities: ['chat'] });
      expect(withErin.carrier).toMatchObject({ domain: DOMAIN, name: 'xmpp-ws' });
      const account = join(prosody.accountsDir, accountName('alice~a.example'));
      expect(existsSync(account)).toBe(true);
      // The 200 is Erin's receipt.
      const ok = await withErin.send('hello Erin, from a.example');
      expect(ok.body.code).toBe(200);
      expect(erin.chats).toEqual([
        {
          from: expect.stringMatching(/^alice~a\.example@x\.example\/protofly\./),
          id: ok.id,
          text: 'hello Erin, from a.example',
        },
      ]);
      const reply = nextMessage(withErin);
      await erin.send(GUEST, 'hello Alice, from Prosody', 'erin-g1');
      const got = await reply;
      expect(got.from).toBe(ERIN);
      expect(got.body).toEqual({ kind: 'chat', text: 'hello Alice, from Prosody' });
      await alice.close();
      await gone(account);
    } finally {
      await erin.stop();
      await alice.close();
    }
  });

  it('refused credentials (a token for another domain) fail the conversation for good with PF_ERR_AUTH', async () => {
    const home = domains.byName.get('a.example')!;
    const alice = domains.runtime(ALICE, {
      host,
      identity: { address: ALICE, token: () => home.identity.issue(ALICE, 600, 'b.example') },
      stubConfig: { [DOMAIN]: FAST },
    });
    try {
      await expect(alice.runtime.conversation(ERIN)).rejects.toThrow(
        /^PF_ERR_AUTH: stub x\.example\/xmpp-ws@[^:]+: guest service ws:\/\/[^ ]+ refused user:\/\/a\.example\/alice: 4401/,
      );
    } finally {
      await alice.close();
    }
  });

  it('answers what it held at once when its credentials are refused, and opens no XMPP stream', async () => {
    /** Names every socket the stub opens. */
    class Opening extends DirectContext {
      readonly opened: string[] = [];
      override connect(url: string, protocols: readonly string[], delegate: SocketDelegate): StubSocket {
        this.opened.push(url);
        return super.connect(url, protocols, delegate);
      }
    }
    const ctx = new Opening({
      address: ALICE,
      token: await domains.byName.get('a.example')!.identity.issue(ALICE, 600, 'b.example'),
      domain: DOMAIN,
      config: { ...DEFAULTS, ...FAST, url: prosody.wsUrl, guestUrl: xmpp.guestUrl },
      session: new DirectSession(),
      peer: ERIN,
      from: [ERIN],
    });
    const stub = await activate(ctx);
    const held = request('create', ALICE, ERIN, { value: { kind: 'chat', text: 'never goes' } });
    stub.postMessage(held);
    await ctx.until(() => ctx.statuses.includes('failed'));
    expect(ctx.failedWith).toBe('PF_ERR_AUTH');
    expect(ctx.received).toMatchObject([{ id: held.id, type: 'response', body: { code: 503 } }]);
    expect(ctx.statuses).toEqual(['connecting', 'failed']);
    expect(ctx.opened).toEqual([xmpp.guestUrl]);
    await stub.stop();
    ctx.end();
  });
});
