import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PolicyRules } from '../core/generated/types.js';
import { createNodeRuntime, type NodeRuntime } from '../entry/node-runtime.js';
import { hashPassword } from '../plugins/backends/identity-static/password.js';
import type { Conversation, Incoming } from '../runtime/conversation.js';
import { developmentPolicy } from '../runtime/policy.js';
import { type RunningDomain, startDomain } from '../server/domain.js';

const DOMAIN = 'p.example';
const ALICE = `user://${DOMAIN}/alice`;
const BOB = `user://${DOMAIN}/bob`;
const ROOT = 'root:root password';
const SDP = 'v=0\r\no=alice 1 1 IN IP4 127.0.0.1\r\n';

/** Bob takes no calls; chats still reach him. */
const NO_CALLS: PolicyRules = {
  groups: { callees: [BOB] },
  rules: [
    { name: 'no-calls-to-bob', action: 'deny', to: ['group:callees'], capabilities: ['call', 'video'] },
  ],
};

let dir: string;
let domain: RunningDomain;
const runtimes: NodeRuntime[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pf-policy-'));
  domain = await startDomain(
    {
      domain: DOMAIN,
      dataDir: join(dir, 'data'),
      services: { provisioning: { backend: 'provisioning-identity', config: { admins: ['root'] } } },
      policy: NO_CALLS,
    },
    { users: new Map([['root', await hashPassword('root password')]]), log: pino({ level: 'silent' }) },
  );
}, 120_000);
afterAll(async () => {
  await Promise.allSettled(runtimes.map((r) => r.close()));
  await domain?.close();
  await rm(dir, { recursive: true, force: true });
});

/** A runtime of `address`, a user of the domain, with tokens its identity service issues. */
function runtime(address: string): NodeRuntime {
  const rt = createNodeRuntime({
    policy: developmentPolicy,
    identity: { address, token: (audience) => domain.identity.issue(address, 600, audience) },
    catalogues: { [DOMAIN]: domain.catalogueUrl },
    dataDir: join(dir, 'runtimes', String(runtimes.length)),
  });
  runtimes.push(rt);
  return rt;
}

/** A request to the policy API on the node's admin port, as `who` (name:password). */
async function api(method: string, who?: string, body?: unknown) {
  const res = await fetch(`${domain.adminUrl}/policy/v1/rules`, {
    method,
    headers: who ? { authorization: `Basic ${Buffer.from(who).toString('base64')}` } : {},
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  return { status: res.status, headers: res.headers, body: await res.json() };
}

async function metrics(): Promise<string> {
  return (await fetch(`${domain.adminUrl}/metrics`)).text();
}

describe('policy rules through a real messaging node', { timeout: 120_000 }, () => {
  it('refuses a call by a rule with a coded response, and lets it through once the rule is changed over the REST API, with no restart', async () => {
    const bob = runtime(BOB).runtime;
    await bob.register();
    const incoming = new Promise<Conversation>((resolve) => bob.on('conversation', resolve));
    const withBob = await runtime(ALICE).runtime.conversation(BOB, { capabilities: ['chat', 'call'] });

    // A chat is no call: the rule does not concern it.
    expect((await withBob.send('may I call?')).body.code).toBe(200);
    const atBob = await incoming;
    // The first offer Bob gets is the one let through: the refused one never reached him.
    const offered = new Promise<Incoming>((resolve) => {
      const off = atBob.on('message', (m) => {
        if ((m.body as { kind?: string }).kind !== 'offer') return;
        off();
        resolve(m);
      });
    });

    const refused = await withBob.call(SDP, ['audio']).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(refused).toMatchObject({ code: 'PF_ERR_DELIVERY', detail: { code: 403 } });
    expect((refused as Error).message).toContain(
      `PF_ERR_FORBIDDEN: ${ALICE} may not reach ${BOB} with call: refused by policy rule 'no-calls-to-bob'`,
    );
    expect(await metrics()).toContain(
      'protofly_node_policy_decisions_total{rule="no-calls-to-bob",decision="refused"} 1',
    );

    expect(await api('GET', ROOT)).toMatchObject({ status: 200, body: NO_CALLS });
    const open: PolicyRules = { rules: [{ name: 'calls-allowed', action: 'allow', capabilities: ['call'] }] };
    expect(await api('PUT', ROOT, open)).toMatchObject({ status: 200, body: open });

    const callId = await withBob.call(SDP, ['audio']);
    expect((await offered).body).toMatchObject({ kind: 'offer', callId, media: ['audio'] });
    expect(await metrics()).toContain(
      'protofly_node_policy_decisions_total{rule="calls-allowed",decision="allowed"} 1',
    );
    expect(await api('GET', ROOT)).toMatchObject({ status: 200, body: open });
  });

  it('takes changes from administrators only, refuses rules that cannot be used, and keeps those in force', async () => {
    const before = (await api('GET', ROOT)).body;
    const none = await api('PUT', undefined, {});
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toBe('Basic realm="protofly policy"');
    expect(none.body).toEqual({
      error: { code: 'PF_ERR_AUTH', message: 'no valid administrator credentials' },
    });
    expect(await api('PUT', ROOT, 'not json')).toMatchObject({
      status: 400,
      body: { error: { code: 'PF_ERR_SCHEMA', message: 'request body is not JSON' } },
    });
    expect(await api('PUT', ROOT, { rules: [{ name: 'x', action: 'maybe' }] })).toMatchObject({
      status: 400,
      body: { error: { code: 'PF_ERR_SCHEMA' } },
    });
    expect(
      await api('PUT', ROOT, { rules: [{ name: 'x', action: 'deny', from: ['group:nobody'] }] }),
    ).toEqual({
      status: 400,
      headers: expect.anything(),
      body: {
        error: {
          code: 'PF_ERR_RULES',
          message: "policy rules: /rules/0/from/0 no group 'nobody' in /groups",
        },
      },
    });
    expect(await api('POST', ROOT, {})).toMatchObject({
      status: 405,
      body: { error: { code: 'PF_ERR_METHOD' } },
    });
    expect((await api('GET', ROOT)).body).toEqual(before);
  });
});
