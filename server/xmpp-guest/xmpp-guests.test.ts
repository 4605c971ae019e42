import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { type Domains, startDomains } from '../../test/support/domains.js';
import { gone } from '../../test/support/files.js';
import { askGuest } from '../../test/support/guest-client.js';
import { startXmppUser, type XmppUser } from '../../test/support/xmpp-world.js';
import { generateDomainKey } from '../catalogue/keys.js';
import { accountName, type Prosody, startProsody } from '../prosody.js';
import { type RunningXmppDomain, startXmppDomain } from '../xmpp-domain.js';

const DOMAIN = 'x.example';
let dir: string;
let domains: Domains;
let prosody: Prosody;
let xmpp: RunningXmppDomain;
const users: XmppUser[] = [];

const token = (address: string, audience = DOMAIN) =>
  domains.byName.get('a.example')!.identity.issue(address, 600, audience);
const guest = async (address: string) =>
  askGuest(xmpp.guestUrl, JSON.stringify({ t: 'guest', token: await token(address) }));
const account = (username: string) => join(prosody.accountsDir, accountName(username));

beforeAll(async () => {
  // @xmpp/client opens `new WebSocket(url, 'xmpp')` on the global, which Node 20 lacks (PEERS.md).
  (globalThis as { WebSocket?: unknown }).WebSocket ??= WebSocket;
  dir = await mkdtemp(join(tmpdir(), 'pf-xmpp-domain-'));
  domains = await startDomains(['a.example']);
  // Sweeps every second, for the unused guest below.
  prosody = await startProsody({ domain: DOMAIN, users: { erin: 'erin-pw' }, guestSweepSeconds: 1 });
  xmpp = await startXmppDomain({
    domain: DOMAIN,
    key: await generateDomainKey(DOMAIN, join(dir, 'keys')),
    dataDir: dir,
    xmppUrl: prosody.wsUrl,
    accountsDir: prosody.accountsDir,
    peers: domains.catalogues,
  });
});
afterAll(async () => {
  await Promise.allSettled(users.map((u) => u.stop()));
  await xmpp?.close();
  await prosody?.stop();
  await domains?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('an XMPP domain and its guests (Prosody)', () => {
  it('serves the xmpp-ws stub from its catalogue, its url Prosody and its endpoints Prosody and the guest service', async () => {
    const descriptor = (await (
      await fetch(new URL('/.well-known/protofly/stub/default', xmpp.catalogueUrl))
    ).json()) as {
      name: string;
      configuration: { defaults: { url: string } };
      constraints: { endpoints: string[] };
    };
    expect(descriptor.name).toBe('xmpp-ws');
    expect(descriptor.configuration.defaults.url).toBe(prosody.wsUrl);
    expect(descriptor.constraints.endpoints).toEqual([new URL(prosody.wsUrl).href, xmpp.guestUrl]);
  });

  it('makes a verified user of another domain an account alice~a.example, which chats with a Prosody user both ways and is gone when its last session ends', async () => {
    const answer = await guest('user://a.example/alice');
    expect(answer.close).toBe(1000);
    expect(answer.frame).toMatchObject({
      t: 'credentials',
      username: 'alice~a.example',
      aor: `xmpp:alice~a.example@${DOMAIN}`,
      realm: DOMAIN,
    });
    const file = account('alice~a.example');
    expect(existsSync(file)).toBe(true);
    const alice = await startXmppUser(prosody.wsUrl, 'alice~a.example', answer.frame!.password as string);
    const erin = await startXmppUser(prosody.wsUrl, 'erin', 'erin-pw');
    users.push(erin);
    await alice.send(erin.jid, 'hello Erin, from a.example', 'g1');
    await erin.received(1);
    expect(erin.chats[0]).toMatchObject({ text: 'hello Erin, from a.example', id: 'g1' });
    expect(erin.chats[0]!.from.startsWith(`alice~a.example@${DOMAIN}/`)).toBe(true);
    await erin.send(alice.jid, 'hello Alice', 'g2');
    expect(alice.chats.map((c) => c.text)).toEqual(['hello Alice']);
    await alice.stop();
    await gone(file);
    // The domain's own user stays.
    expect(existsSync(account('erin'))).toBe(true);
  });

  it('removes a guest account never used once its time has passed', async () => {
    const service = await startXmppDomain({
      domain: DOMAIN,
      key: await generateDomainKey(DOMAIN, join(dir, 'short', 'keys')),
      dataDir: join(dir, 'short'),
      xmppUrl: prosody.wsUrl,
      accountsDir: prosody.accountsDir,
      peers: domains.catalogues,
      guestTtlSeconds: 1,
    });
    try {
      const answer = await askGuest(
        service.guestUrl,
        JSON.stringify({ t: 'guest', token: await token('user://a.example/carol') }),
      );
      expect(answer.frame).toMatchObject({ username: 'carol~a.example', expires: 1 });
      await gone(account('carol~a.example'));
    } finally {
      await service.close();
    }
  });

  it('refuses names an XMPP account cannot keep as they are, and tokens that do not verify, as the SIP guest service does', async () => {
    const upper = await guest('user://a.example/Alice');
    expect(upper.close).toBe(4403);
    expect(upper.reason).toMatch(/Alice~a\.example cannot be an XMPP account/);
    expect(existsSync(account('Alice~a.example'))).toBe(false);
    // Nor can the domain have users of its own whose names would be taken for guests'.
    await expect(startProsody({ domain: DOMAIN, users: { 'bob~x': 'pw' } })).rejects.toThrow(
      /names with '~' are guests'/,
    );
    const elsewhere = await token('user://a.example/alice', 'b.example');
    expect((await askGuest(xmpp.guestUrl, JSON.stringify({ t: 'guest', token: elsewhere }))).close).toBe(
      4401,
    );
  });
});
