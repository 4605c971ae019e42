import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { askGuest as ask } from '../../test/support/guest-client.js';
import { type SipWorld, startSipWorld } from '../../test/support/sip-world.js';
import { generateDomainKey } from '../catalogue/keys.js';
import { Policy } from '../policy/policy.js';
import { jssipUser } from '../sip-client/jssip-user.js';
import { startGuestService } from './guest-service.js';
import { kamailioGuests } from './kamailio-guests.js';

let world: SipWorld;
const token = (address: string, audience = 'c.example') =>
  world.domains!.byName.get('a.example')!.identity.issue(address, 600, audience);
const guest = async (address: string) =>
  ask(world.sip.guestUrl, JSON.stringify({ t: 'guest', token: await token(address) }));

beforeAll(async () => {
  world = await startSipWorld({ dave: 'dave-pw' }, ['a.example']);
});
afterAll(async () => {
  await world?.close();
});

describe('the guest credential service of a SIP domain', () => {
  it('admits a user of another domain as <name>~<domain>, and the password registers that AOR in Kamailio', async () => {
    const first = await guest('user://a.example/alice');
    expect(first.close).toBe(1000);
    expect(first.frame).toMatchObject({
      t: 'credentials',
      username: 'alice~a.example',
      aor: 'sip:alice~a.example@c.example',
      realm: 'c.example',
      expires: 3600,
    });
    const password = first.frame!.password as string;
    expect(password.length).toBeGreaterThanOrEqual(24);
    // Asking again while it is good renews the same password: a second device is not locked out.
    expect((await guest('user://a.example/alice')).frame!.password).toBe(password);
    const ua = await jssipUser(world.kamailio.wsUrl, 'c.example', 'alice~a.example', password);
    await ua.stop();
  });

  it('never lets a guest password register as one of the domain’s own users', async () => {
    const { frame } = await guest('user://a.example/alice');
    const password = frame!.password as string;
    // As dave, with dave's name and the guest's password: the subscriber table says no.
    await expect(jssipUser(world.kamailio.wsUrl, 'c.example', 'dave', password)).rejects.toThrow(
      /did not register/,
    );
    // As dave, authenticating as the guest: the guest's credentials name another user.
    await expect(
      jssipUser(world.kamailio.wsUrl, 'c.example', 'dave', password, {
        authorizationUser: 'alice~a.example',
      }),
    ).rejects.toThrow(/did not register: Authentication Error/);
  });

  it('refuses what is not a good token for it, each with its close code', async () => {
    const url = world.sip.guestUrl;
    expect((await ask(url, 'not json')).close).toBe(4400);
    expect((await ask(url, JSON.stringify({ t: 'guest' }))).close).toBe(4400);
    expect((await ask(url, JSON.stringify({ t: 'guest', token: 'a.b.c' }))).close).toBe(4401);
    const elsewhere = await token('user://a.example/alice', 'b.example');
    expect((await ask(url, JSON.stringify({ t: 'guest', token: elsewhere }))).close).toBe(4401);
    // Signed with a key a.example never published.
    const dir = await mkdtemp(join(tmpdir(), 'pf-stranger-'));
    const stranger = await generateDomainKey('a.example', dir);
    await rm(dir, { recursive: true });
    const forged = await new SignJWT({})
      .setProtectedHeader({ alg: 'EdDSA', kid: stranger.publicJwk.kid })
      .setIssuer('a.example')
      .setSubject('user://a.example/alice')
      .setAudience('c.example')
      .setIssuedAt()
      .setExpirationTime('10m')
      .sign(stranger.privateKey);
    expect((await ask(url, JSON.stringify({ t: 'guest', token: forged }))).close).toBe(4401);
  });

  it('refuses the domain’s own users (they have passwords), and says when the SIP server cannot be told', async () => {
    const request = JSON.stringify({ t: 'guest', token: 'checked by verify' });
    const service = await startGuestService({
      domain: 'c.example',
      verify: async () => 'user://c.example/dave',
      store: kamailioGuests(world.kamailio.rpcUrl),
    });
    const down = await startGuestService({
      domain: 'c.example',
      verify: async () => 'user://a.example/alice',
      store: kamailioGuests('http://127.0.0.1:9/RPC', 500),
    });
    try {
      expect((await ask(service.url, request)).close).toBe(4403);
      expect((await ask(down.url, request)).close).toBe(4503);
    } finally {
      await service.close();
      await down.close();
    }
  });

  it('gives no account to a foreign user the domain’s policy refuses everything here (4403), and one to a user a rule lets in', async () => {
    const policy = new Policy('c.example', {
      rules: [
        {
          name: 'alice-to-dave',
          action: 'allow',
          from: ['user://a.example/alice'],
          to: ['user://c.example/dave'],
        },
        { name: 'no-a', action: 'deny', from: ['user://a.example/*'] },
      ],
    });
    const service = await startGuestService({
      domain: 'c.example',
      // Tokens are checked in the tests above; here the token is the address it proves.
      verify: async (t) => t,
      store: kamailioGuests(world.kamailio.rpcUrl),
      policy,
    });
    const ask2 = (address: string) => ask(service.url, JSON.stringify({ t: 'guest', token: address }));
    try {
      expect(await ask2('user://a.example/erin')).toEqual({
        close: 4403,
        reason: "PF_ERR_FORBIDDEN: policy rule 'no-a'",
      });
      const alice = await ask2('user://a.example/alice');
      expect(alice).toMatchObject({ close: 1000, frame: { t: 'credentials', username: 'alice~a.example' } });
      expect(Object.fromEntries(policy.counts())).toEqual({
        'no-a': { allowed: 0, refused: 1, flood: 0 },
        'alice-to-dave': { allowed: 1, refused: 0, flood: 0 },
      });
    } finally {
      await service.close();
    }
  });
});
