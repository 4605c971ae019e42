import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningDomain, startDomain } from '../server/domain.js';

const BIN = join(import.meta.dirname, '../bin/protofly.js');
const DOMAIN = 'p.example';

/** Runs `protofly users ...` with `stdin`; resolves with its standard output. */
function users(args: string[], stdin = ''): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      process.execPath,
      [BIN, 'users', ...args],
      { encoding: 'utf8' },
      (err, out, errOut) => (err ? reject(new Error(`${err.message}\n${errOut}`)) : resolve(out)),
    );
    child.stdin!.end(stdin);
  });
}

let dir: string;
let data: string;
let domain: RunningDomain;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pf-provisioning-'));
  data = join(dir, 'data');
  // The first administrator comes from the command line, before the domain runs.
  expect(await users(['add', 'root', '--data', data], 'root password\n')).toBe(
    `added root in ${join(data, 'users.yaml')}\n`,
  );
  domain = await startDomain(
    {
      domain: DOMAIN,
      dataDir: data,
      services: { provisioning: { backend: 'provisioning-identity', config: { admins: ['root'] } } },
    },
    { log: pino({ level: 'silent' }) },
  );
});
afterAll(async () => {
  await domain?.close();
  await rm(dir, { recursive: true, force: true });
});

/** A request to the provisioning API on the node's admin port, as `who` (name:password). */
async function api(method: string, path: string, who?: string, body?: unknown) {
  const res = await fetch(`${domain.adminUrl}/provisioning/v1/users${path}`, {
    method,
    headers: {
      ...(who ? { authorization: `Basic ${Buffer.from(who).toString('base64')}` } : {}),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  return { status: res.status, headers: res.headers, body: await res.json().catch(() => undefined) };
}

const ROOT = 'root:root password';

describe('provisioning REST API on the admin port', () => {
  it('asks for credentials, and refuses wrong ones and non-administrators', async () => {
    const none = await api('GET', '');
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toBe('Basic realm="protofly provisioning"');
    expect(none.body).toEqual({
      error: { code: 'PF_ERR_AUTH', message: 'no valid administrator credentials' },
    });
    expect((await api('GET', '', 'root:wrong password')).status).toBe(401);
    await api('POST', '', ROOT, { name: 'dana', password: 'dana password' });
    expect(await api('GET', '', 'dana:dana password')).toMatchObject({
      status: 403,
      body: { error: { code: 'PF_ERR_FORBIDDEN', message: `user://${DOMAIN}/dana is not an administrator` } },
    });
  });

  it('creates, lists, disables and enables users; sign-in follows at once', async () => {
    const created = await api('POST', '', ROOT, { name: 'carol', password: 'carol password' });
    expect(created).toMatchObject({
      status: 201,
      body: { name: 'carol', address: `user://${DOMAIN}/carol`, disabled: false },
    });
    expect(await domain.identity.authenticate('carol', 'carol password')).toBe(`user://${DOMAIN}/carol`);
    expect((await api('GET', '', ROOT)).body.users).toContainEqual({
      name: 'carol',
      address: `user://${DOMAIN}/carol`,
      disabled: false,
    });
    expect((await api('PATCH', '/carol', ROOT, { disabled: true })).body).toMatchObject({ disabled: true });
    expect(await domain.identity.authenticate('carol', 'carol password')).toBeUndefined();
    expect(await users(['list', '--data', data])).toContain('carol (disabled)\n');
    await api('PATCH', '/carol', ROOT, { disabled: false, password: 'new carol password' });
    expect(await domain.identity.authenticate('carol', 'new carol password')).toBe(`user://${DOMAIN}/carol`);
    expect(await api('GET', '/carol', ROOT)).toMatchObject({
      status: 200,
      body: { name: 'carol', disabled: false },
    });
  });

  it('refuses what its schemas refuse, a taken name and an unknown user, with coded errors', async () => {
    expect(await api('POST', '', ROOT, { name: 'eve', password: 'short' })).toEqual(
      expect.objectContaining({
        status: 400,
        body: {
          error: {
            code: 'PF_ERR_SCHEMA',
            message: 'user to create: /password must NOT have fewer than 8 characters',
          },
        },
      }),
    );
    expect((await api('POST', '', ROOT, '{nope')).body.error.code).toBe('PF_ERR_SCHEMA');
    expect((await api('PATCH', '/root', ROOT, {})).status).toBe(400);
    await api('POST', '', ROOT, { name: 'frank', password: 'frank password' });
    expect(await api('POST', '', ROOT, { name: 'frank', password: 'frank password' })).toMatchObject({
      status: 409,
      body: { error: { code: 'PF_ERR_EXISTS', message: "user 'frank' exists" } },
    });
    expect(await api('PATCH', '/zed', ROOT, { disabled: true })).toMatchObject({
      status: 404,
      body: { error: { code: 'PF_ERR_NOT_FOUND', message: "no user 'zed'" } },
    });
  });

  it('takes a change made with protofly users in a running domain', async () => {
    await users(['add', 'gina', '--data', data], 'gina password\n');
    expect(await domain.identity.authenticate('gina', 'gina password')).toBe(`user://${DOMAIN}/gina`);
    await users(['disable', 'root', '--data', data]);
    expect((await api('GET', '', ROOT)).status).toBe(401);
    await users(['enable', 'root', '--data', data]);
    expect((await api('GET', '', ROOT)).status).toBe(200);
  });
});
