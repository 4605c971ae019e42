import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from '../core/message.js';
import { hashPassword } from '../plugins/backends/identity-static/password.js';
import { type RunningDomain, startDomain } from '../server/domain.js';
import { JsonWsClient } from './support/json-ws-client.js';
import { LDAP_PEOPLE, LDAP_READER, type Slapd, startSlapd } from './support/slapd.js';

const DOMAIN = 'ab.example';
const DIRECTORY = `domain://msg-node.${DOMAIN}/directory`;
const ALICE = `user://${DOMAIN}/alice`;
const ROOT = 'root:root password';

let dir: string;
let slapd: Slapd;
let domain: RunningDomain;
let alice: JsonWsClient;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pf-addressbook-'));
  slapd = await startSlapd(['sales']);
  await slapd.add({ uid: 'alice', cn: 'Alice Liddell', mail: 'alice@ab.example', groups: ['sales'] });
  await slapd.add({ uid: 'bob', cn: 'Bob Malice' });
  domain = await startDomain(
    {
      domain: DOMAIN,
      dataDir: join(dir, 'data'),
      services: {
        provisioning: { backend: 'provisioning-identity', config: { admins: ['root'] } },
        addressbook: {
          backend: 'addressbook-ldap',
          config: {
            url: slapd.url,
            bindDn: LDAP_READER.dn,
            bindPassword: LDAP_READER.password,
            baseDn: LDAP_PEOPLE,
            syncIntervalSeconds: 0,
          },
        },
      },
    },
    {
      log: pino({ level: 'silent' }),
      users: new Map([
        ['root', await hashPassword('root password')],
        ['alice', await hashPassword('alice password')],
      ]),
    },
  );
  alice = await JsonWsClient.ready(domain.nodeUrl, await domain.identity.issue(ALICE));
});
afterAll(async () => {
  alice?.ws.close();
  await domain?.close();
  await slapd?.close();
  await rm(dir, { recursive: true, force: true });
});

/** A request to the address book API on the node's admin port, as `who` (name:password). */
async function api(method: string, path: string, who?: string) {
  const res = await fetch(`${domain.adminUrl}/addressbook/v1${path}`, {
    method,
    headers: who ? { authorization: `Basic ${Buffer.from(who).toString('base64')}` } : {},
  });
  return { status: res.status, headers: res.headers, body: await res.json().catch(() => undefined) };
}

/** Alice asks the node's directory; resolves with the node's answer to it: a response, or an err. */
async function ask(body: { method: string; params?: object }, type: 'execute' | 'read' = 'execute') {
  const m =
    type === 'execute'
      ? request('execute', ALICE, DIRECTORY, body as { method: string })
      : request('read', ALICE, DIRECTORY, {});
  alice.msg(m);
  return alice.take(
    (f) => (f.t === 'msg' && f.m.type === 'response' && f.m.id === m.id) || (f.t === 'err' && f.id === m.id),
  );
}

describe('the address book through the node, from an LDAP directory', () => {
  it("answers a user's search with a response from the node's copy, after acknowledging it", async () => {
    const answer = await ask({ method: 'protofly.directory.search', params: { query: 'lid', limit: 5 } });
    expect(answer).toEqual({
      t: 'msg',
      m: {
        id: expect.any(String),
        type: 'response',
        from: DIRECTORY,
        to: ALICE,
        body: {
          code: 200,
          description: 'OK',
          value: {
            entries: [
              { address: ALICE, displayName: 'Alice Liddell', email: 'alice@ab.example', groups: ['sales'] },
            ],
            more: false,
          },
        },
      },
    });
    const lookup = await ask({
      method: 'protofly.directory.lookup',
      params: { address: `user://${DOMAIN}/bob` },
    });
    expect(lookup).toMatchObject({ m: { body: { value: { entries: [{ displayName: 'Bob Malice' }] } } } });
    expect(alice.frames.some((f) => f.t === 'ack')).toBe(true);
  });

  it('refuses bad input with coded errors naming it', async () => {
    expect(
      await ask({ method: 'protofly.directory.search', params: { query: 'x'.repeat(129) } }),
    ).toMatchObject({
      t: 'err',
      code: 'PF_ERR_SCHEMA',
      message: expect.stringContaining('/query'),
    });
    expect(
      await ask({ method: 'protofly.directory.search', params: { query: 'a', limit: 1000 } }),
    ).toMatchObject({
      t: 'err',
      code: 'PF_ERR_SCHEMA',
      message: expect.stringContaining('/limit'),
    });
    expect(await ask({ method: 'protofly.directory.search' })).toMatchObject({
      t: 'err',
      code: 'PF_ERR_SCHEMA',
    });
    expect(await ask({ method: 'protofly.directory.drop', params: {} })).toMatchObject({
      t: 'err',
      code: 'PF_ERR_SCHEMA',
      message: expect.stringContaining("no method 'protofly.directory.drop'"),
    });
    expect(await ask({ method: '' }, 'read')).toMatchObject({ t: 'err', code: 'PF_ERR_SCHEMA' });
    // The connection serves on.
    expect(await ask({ method: 'protofly.directory.search', params: { query: 'bob' } })).toMatchObject({
      t: 'msg',
    });
  });

  it('lets administrators search it and bring it up to date on demand, with the provisioning API’s gate', async () => {
    const none = await api('GET', '/entries?q=ali');
    expect(none.status).toBe(401);
    expect(none.body.error.code).toBe('PF_ERR_AUTH');
    expect((await api('GET', '/entries?q=ali', 'alice:alice password')).body.error.code).toBe(
      'PF_ERR_FORBIDDEN',
    );
    expect(await api('GET', '/entries?q=ALI', ROOT)).toMatchObject({
      status: 200,
      body: { entries: [{ address: ALICE }, { displayName: 'Bob Malice' }], more: false },
    });
    expect(await api('GET', '/entries?limit=1', ROOT)).toMatchObject({ status: 200, body: { more: true } });
    expect(await api('GET', '/entries?q=a&limit=many', ROOT)).toMatchObject({
      status: 400,
      body: { error: { code: 'PF_ERR_SCHEMA', message: expect.stringContaining('/limit') } },
    });
    expect((await api('DELETE', '/entries', ROOT)).status).toBe(405);
    expect((await api('GET', '/nothing', ROOT)).status).toBe(404);

    await slapd.add({ uid: 'carol', cn: 'Carol Sync' });
    expect((await api('GET', '/entries?q=carol', ROOT)).body.entries).toEqual([]);
    expect(await api('POST', '/sync', ROOT)).toMatchObject({ status: 200, body: { ok: true, entries: 3 } });
    expect((await api('GET', '/entries?q=carol', ROOT)).body.entries).toHaveLength(1);
  });

  it('keeps answering from the last good copy while the directory is down, and says so', async () => {
    await slapd.stop();
    try {
      expect(await api('POST', '/sync', ROOT)).toMatchObject({
        status: 502,
        body: { error: { code: 'PF_ERR_DIRECTORY', message: expect.stringContaining(slapd.url) } },
      });
      expect(await api('GET', '/status', ROOT)).toMatchObject({
        status: 200,
        body: { ok: false, entries: 3, error: { code: 'PF_ERR_DIRECTORY' } },
      });
      expect(await ask({ method: 'protofly.directory.search', params: { query: 'carol' } })).toMatchObject({
        m: { body: { value: { entries: [{ displayName: 'Carol Sync' }] } } },
      });
      const metrics = await (await fetch(`${domain.adminUrl}/metrics`)).text();
      expect(metrics).toMatch(/^protofly_node_addressbook_synced 0$/m);
      expect(metrics).toMatch(/^protofly_node_addressbook_entries 3$/m);
      expect(metrics).toMatch(/^protofly_node_addressbook_sync_failures_total 1$/m);
    } finally {
      await slapd.start();
    }
    expect(await api('POST', '/sync', ROOT)).toMatchObject({ status: 200, body: { ok: true } });
    expect(await (await fetch(`${domain.adminUrl}/metrics`)).text()).toMatch(
      /^protofly_node_addressbook_synced 1$/m,
    );
  });
});
