import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { isProtoflyError, type ProtoflyError } from '../core/errors.js';
import type { Descriptor, StubPackage } from '../core/plugin.js';
import { Bus } from '../runtime/bus.js';
import { CatalogueClient } from '../runtime/catalogue.js';
import { pluginConfig } from '../runtime/config.js';
import { Loader } from '../runtime/loader.js';
import { assertScheme, developmentPolicy, type PolicyOption, resolvePolicy } from '../runtime/policy.js';
import { signingInput } from '../runtime/signature.js';
import { addressClass } from '../runtime/special-address.js';
import { TrustStore } from '../runtime/trust.js';
import { webSocketFactory } from '../sandbox/node/websocket.js';
import { NodeWorkerHost } from '../sandbox/node/worker-host.js';
import { generateDomainKey, readDomainKey, signWith } from '../server/catalogue/keys.js';
import { converse, eventually } from './support/conversation.js';
import { type TestCatalogue, testCatalogue } from './support/domain-catalogue.js';

/**
 * The runtime policy against validly signed descriptors that ask for too much: each is
 * published into a real catalogue, signed with the domain's pinned key, and refused by the
 * loader with PF_ERR_POLICY naming the policy key and the descriptor field, before its package
 * is fetched; the sandbox host holds the same line when a stub connects, DNS answers included.
 */

const ECHO = join(import.meta.dirname, 'fixtures/stubs/echo');
const PROBE = join(import.meta.dirname, 'stubs/probe');
const DOMAIN = 'b.example';

let cat: TestCatalogue;

beforeEach(async () => {
  cat = await testCatalogue(DOMAIN);
});
afterEach(async () => {
  await cat.close();
});

/** Publishes the echo stub, then changes its descriptor and signs it again with the domain's key. */
async function signed(change: (d: Record<string, unknown>) => void): Promise<string> {
  const { descriptorFile } = await cat.publish(ECHO, true);
  await resign(descriptorFile, change);
  return descriptorFile;
}

/** Changes a published descriptor and signs it again with the domain's key. */
async function resign(file: string, change: (d: Record<string, unknown>) => void): Promise<void> {
  const d = JSON.parse(await readFile(file, 'utf8'));
  change(d);
  delete d.signature;
  d.signature = signWith(cat.key, signingInput(d));
  await writeFile(file, JSON.stringify(d));
}

function loader(policy?: PolicyOption): Loader {
  return new Loader({
    trust: new TrustStore({ mode: 'pinned', pinned: { [DOMAIN]: [cat.key.publicJwk] } }),
    catalogue: new CatalogueClient({ catalogues: { [DOMAIN]: cat.url } }),
    ...(policy === undefined ? {} : { policy }),
  });
}

function constraints(d: Record<string, unknown>): Record<string, unknown> {
  return d.constraints as Record<string, unknown>;
}

/** Loads under `policy` and expects PF_ERR_POLICY naming `key` and `field`, with no package fetched. */
async function refusedBy(key: string, field: string, policy?: PolicyOption): Promise<ProtoflyError> {
  const before = cat.packageRequests;
  const err = await loader(policy)
    .load({ domain: DOMAIN })
    .then(
      () => undefined,
      (e: unknown) => e,
    );
  expect(isProtoflyError(err, 'PF_ERR_POLICY'), String(err)).toBe(true);
  const e = err as ProtoflyError;
  expect(e.detail).toMatchObject({ policy: key, field });
  expect(e.message).toContain(`policy key ${key}`);
  expect(e.message).toContain(field);
  expect(cat.packageRequests).toBe(before);
  return e;
}

describe('endpoints a descriptor may declare', () => {
  const special: [string, string][] = [
    ['ws://127.0.0.1:*/', 'loopback'],
    ['ws://0x7f.1/', 'loopback'],
    ['ws://2130706433:8080/', 'loopback'],
    ['ws://localhost:*/', 'loopback'],
    ['wss://db.localhost/', 'loopback'],
    ['ws://10.1.2.3/', 'private'],
    ['ws://192.168.0.1:*/', 'private'],
    ['ws://172.20.0.1/', 'private'],
    ['ws://169.254.169.254/', 'link-local'],
    ['ws://0.0.0.0:*/', 'special'],
  ];
  for (const [endpoint, cls] of special) {
    it(`refuses ${endpoint} (${cls}) under the default policy`, async () => {
      await signed((d) => {
        constraints(d).endpoints = ['wss://b.example/', endpoint];
      });
      const err = await refusedBy('endpoints.addresses', 'constraints/endpoints/1');
      expect(err.detail.class).toBe(cls);
    });
  }

  it("refuses another domain's host, and takes one the policy lists for this domain", async () => {
    await signed((d) => {
      constraints(d).endpoints = ['wss://relay.evil.example/', 'wss://b.example.evil.example/'];
    });
    await refusedBy('endpoints.hosts', 'constraints/endpoints/0');
    const listed = { endpoints: { hosts: { [DOMAIN]: ['relay.evil.example', 'b.example.evil.example'] } } };
    expect((await loader(listed).load({ domain: DOMAIN })).descriptor.name).toBe('echo');
    // Listed for another domain is not listed for this one.
    await refusedBy('endpoints.hosts', 'constraints/endpoints/0', {
      endpoints: { hosts: { 'c.example': ['relay.evil.example'] } },
    });
  });

  it('accepts the domain and its subdomains, and loopback under the development policy', async () => {
    await signed((d) => {
      constraints(d).endpoints = [
        'wss://b.example/',
        'wss://node.eu.b.example:8443/chat',
        'ws://127.0.0.1:*/',
      ];
    });
    await refusedBy('endpoints.addresses', 'constraints/endpoints/2');
    expect((await loader(developmentPolicy).load({ domain: DOMAIN })).descriptor.name).toBe('echo');
    expect((await loader('development').load({ domain: DOMAIN })).descriptor.name).toBe('echo');
  });
});

describe('who signed', () => {
  it('refuses what a development key signed, marked in its file and JWK, unless the policy accepts development keys', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pf-devkey-'));
    try {
      const key = await generateDomainKey(DOMAIN, dir, true);
      expect(key.publicJwk.development).toBe(true);
      const read = await readDomainKey(join(dir, `${DOMAIN}.key`));
      expect(read.publicJwk).toEqual(key.publicJwk);
      // Keys are made unmarked unless asked.
      expect((await generateDomainKey('c.example', dir)).publicJwk.development).toBeUndefined();
      const { descriptorFile } = await cat.publish(ECHO, true);
      const d = JSON.parse(await readFile(descriptorFile, 'utf8'));
      delete d.signature;
      d.signature = signWith(key, signingInput(d));
      await writeFile(descriptorFile, JSON.stringify(d));
      const signedBy = (policy?: PolicyOption) =>
        new Loader({
          trust: new TrustStore({ mode: 'pinned', pinned: { [DOMAIN]: [key.publicJwk] } }),
          catalogue: new CatalogueClient({ catalogues: { [DOMAIN]: cat.url } }),
          ...(policy === undefined ? {} : { policy }),
        }).load({ domain: DOMAIN });
      const before = cat.packageRequests;
      const err = await signedBy().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isProtoflyError(err, 'PF_ERR_POLICY'), String(err)).toBe(true);
      expect((err as ProtoflyError).detail).toMatchObject({
        policy: 'developmentKeys',
        field: 'signature/keyId',
      });
      expect((err as ProtoflyError).message).toMatch(/a development key \(protofly dev\)/);
      expect(cat.packageRequests).toBe(before);
      expect((await signedBy('development')).signedBy).toBe(`${DOMAIN}#${key.publicJwk.kid}`);
      expect((await signedBy({ developmentKeys: true })).descriptor.name).toBe('echo');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('limits a descriptor may ask for', () => {
  it('a policy is checked against its schema too', () => {
    expect(() => loader({ limits: { memoryMb: 1 } })).toThrow(
      /PF_ERR_SCHEMA: runtime policy: \/limits\/memoryMb/,
    );
    expect(() => loader({ endpoints: { addresses: ['everywhere' as 'special'] } })).toThrow(/PF_ERR_SCHEMA/);
  });

  it('refuses more memory than the ceiling, and takes less', async () => {
    await signed((d) => {
      constraints(d).memoryMb = 128;
    });
    const err = await refusedBy('limits.memoryMb', 'constraints/memoryMb');
    expect(err.detail).toMatchObject({ asked: 128, ceiling: 64 });
    expect((await loader({ limits: { memoryMb: 128 } }).load({ domain: DOMAIN })).descriptor.name).toBe(
      'echo',
    );
  });

  for (const [key, asked] of [
    ['watchdogMs', 60_000],
    ['maxTimers', 5000],
    ['maxSocketsPerSession', 64],
    ['messagesPerSecond', 200_000],
  ] as const) {
    it(`refuses ${key} over the ceiling`, async () => {
      await signed((d) => {
        constraints(d)[key] = asked;
      });
      await refusedBy(`limits.${key}`, `constraints/${key}`);
    });
  }
});

describe('where the package may come from', () => {
  it('refuses a package on another origin before fetching it, unless the policy lists that origin', async () => {
    await signed((d) => {
      (d.sourcePackage as { url: string }).url = 'http://127.0.0.2:9/packages/elsewhere.js';
    });
    await refusedBy('packages.origins', 'sourcePackage/url');
    // Listed: the origin check passes, and the fetch itself is what then fails.
    const err = await loader({ packages: { origins: ['http://127.0.0.2:9'] } })
      .load({ domain: DOMAIN })
      .catch((e: unknown) => e);
    expect(isProtoflyError(err, 'PF_ERR_FETCH'), String(err)).toBe(true);
  });
});

describe('configuration schemas', () => {
  const unsafe: [string, Record<string, unknown>, string][] = [
    [
      'a catastrophic pattern',
      { type: 'object', properties: { x: { type: 'string', pattern: '^(a+)+$' } } },
      'configuration/schema/properties/x/pattern',
    ],
    [
      'patternProperties',
      { type: 'object', patternProperties: { '^(a|a)*$': {} } },
      'configuration/schema/patternProperties',
    ],
    ['a format', { type: 'string', format: 'email' }, 'configuration/schema/format'],
    ['a remote $ref', { $ref: 'https://evil.example/schema.json' }, 'configuration/schema/$ref'],
    ['an $id', { $id: 'https://protofly.dev/schemas/message.schema.json' }, 'configuration/schema/$id'],
    ['an unknown keyword', { type: 'object', $dynamicRef: '#x' }, 'configuration/schema/$dynamicRef'],
    [
      'uniqueItems without a small maxItems',
      { type: 'array', uniqueItems: true },
      'configuration/schema/uniqueItems',
    ],
    ['a bound that is not a number', { type: 'integer', minimum: '5' }, 'configuration/schema/minimum'],
    ['an unknown type', { type: 'strng' }, 'configuration/schema/type'],
    ['an empty allOf', { allOf: [] }, 'configuration/schema/allOf'],
  ];
  for (const [what, schema, field] of unsafe) {
    it(`refuses ${what}, before compiling it`, async () => {
      await signed((d) => {
        d.configuration = { schema, defaults: {} };
      });
      await refusedBy('configurationSchema', field);
    });
  }

  it('refuses a schema over the size or depth bounds', async () => {
    let deep: Record<string, unknown> = { type: 'object' };
    for (let i = 0; i < 20; i++) deep = { type: 'object', properties: { a: deep } };
    await signed((d) => {
      d.configuration = { schema: deep };
    });
    await refusedBy(
      'configurationSchema',
      'configuration/schema/properties/a/properties/a/properties/a/properties/a/properties/a/properties/a/properties/a/properties/a',
    );
    expect(
      (await loader({ configurationSchema: { maxDepth: 64 } }).load({ domain: DOMAIN })).descriptor.name,
    ).toBe('echo');
  });

  it('a catastrophic pattern in a descriptor that reached pluginConfig anyway is refused, not run', () => {
    const d = {
      domain: DOMAIN,
      name: 'echo',
      version: '1.0.0',
      configuration: { schema: { type: 'object', properties: { x: { pattern: '^(a+)+$' } } } },
      signature: { value: 'x' },
    } as unknown as Descriptor;
    expect(() => pluginConfig(d, { x: `${'a'.repeat(40)}!` })).toThrow(/PF_ERR_POLICY/);
  });

  it('keys compiled validators by the signed descriptor, not by the package bytes', async () => {
    // One package, two descriptors with other schemas: each is checked against its own.
    const file = await signed((d) => {
      d.configuration = { schema: { type: 'object', properties: { prefix: { type: 'string' } } } };
    });
    const first = await loader().load({ domain: DOMAIN });
    expect(pluginConfig(first.descriptor, { prefix: 'a' })).toMatchObject({ prefix: 'a' });
    await resign(file, (d) => {
      d.configuration = { schema: { type: 'object', properties: { prefix: { type: 'integer' } } } };
    });
    // The catalogue serves files from memory once read.
    await cat.restart();
    const second = await loader().load({ domain: DOMAIN });
    expect(second.descriptor.signature.value).not.toBe(first.descriptor.signature.value);
    expect(second.descriptor.sourcePackage.integrity).toBe(first.descriptor.sourcePackage.integrity);
    expect(() => pluginConfig(second.descriptor, { prefix: 'a' })).toThrow(/PF_ERR_SCHEMA.*prefix/);
  });
});

describe('address classes', () => {
  it('judges an IPv4-mapped or NAT64 IPv6 address by the IPv4 address it carries', () => {
    const octet = fc.integer({ min: 0, max: 255 });
    fc.assert(
      fc.property(octet, octet, octet, octet, (a, b, c, d) => {
        const v4 = `${a}.${b}.${c}.${d}`;
        const hex = (x: number, y: number) => ((x << 8) | y).toString(16);
        const cls = addressClass(v4);
        expect(addressClass(`::ffff:${v4}`)).toBe(cls);
        expect(addressClass(`[::ffff:${hex(a, b)}:${hex(c, d)}]`)).toBe(cls);
        expect(addressClass(`64:ff9b::${v4}`)).toBe(cls);
        // 6to4 relays are deprecated: one to a global address is special too.
        expect(addressClass(`2002:${hex(a, b)}:${hex(c, d)}::1`)).toBe(cls ?? 'special');
      }),
    );
  });

  it('names the special IPv6 ranges, and leaves global unicast alone', () => {
    expect(addressClass('[::1]')).toBe('loopback');
    expect(addressClass('::')).toBe('special');
    expect(addressClass('fe80::1%eth0')).toBe('link-local');
    expect(addressClass('fd12:3456::1')).toBe('private');
    expect(addressClass('ff02::1')).toBe('special');
    expect(addressClass('2001:db8::1')).toBe('special');
    expect(addressClass('2606:4700::1111')).toBeUndefined();
    expect(addressClass('93.184.216.34')).toBeUndefined();
    expect(addressClass('localhost.')).toBe('loopback');
    expect(addressClass('b.example')).toBeUndefined();
  });
});

describe('plain ws://', () => {
  const policy = (plainWebSocket?: 'never' | 'loopback' | 'always') =>
    resolvePolicy(plainWebSocket ? { endpoints: { plainWebSocket } } : {});
  const refused = (url: string, host: string, p: ReturnType<typeof policy>) => {
    try {
      assertScheme(url, host, p, 'stub x');
      return undefined;
    } catch (err) {
      return err as ProtoflyError;
    }
  };

  it('is refused by default, allowed to loopback addresses only under loopback, and wss:// always passes', () => {
    const never = refused('ws://sip.b.example/ws', 'sip.b.example', policy());
    expect(never?.code).toBe('PF_ERR_POLICY');
    expect(never?.message).toContain('ws://sip.b.example/ws');
    expect(never?.detail).toMatchObject({ policy: 'endpoints.plainWebSocket', url: 'ws://sip.b.example/ws' });
    for (const host of ['127.0.0.1', '127.8.9.1', 'localhost', '[::1]', '::1']) {
      expect(
        refused(
          `ws://${host.includes(':') && !host.startsWith('[') ? `[${host}]` : host}:5066/`,
          host,
          policy('loopback'),
        ),
      ).toBeUndefined();
    }
    for (const host of ['10.0.0.1', '93.184.216.34', 'sip.b.example', '[::ffff:10.0.0.1]']) {
      expect(refused(`ws://${host}/`, host, policy('loopback'))?.detail).toMatchObject({
        policy: 'endpoints.plainWebSocket',
      });
    }
    // A loopback name that resolved elsewhere (rebinding) is judged by the address.
    expect(refused('ws://localhost:5066/', '192.0.2.7', policy('loopback'))?.message).toContain(
      '192.0.2.7 resolved',
    );
    expect(refused('ws://sip.b.example/', 'sip.b.example', policy('always'))).toBeUndefined();
    fc.assert(
      fc.property(
        fc.domain(),
        fc.constantFrom('never', 'loopback', 'always') as fc.Arbitrary<'never'>,
        (host, p) => {
          expect(refused(`wss://${host}/`, host, policy(p))).toBeUndefined();
        },
      ),
    );
  });

  it('the development policy allows it to loopback, and a policy is checked against its schema', () => {
    expect(resolvePolicy('development').plainWebSocket).toBe('loopback');
    expect(resolvePolicy('default').plainWebSocket).toBe('never');
    expect(() => resolvePolicy({ endpoints: { plainWebSocket: 'sometimes' as 'never' } })).toThrow(
      /PF_ERR_SCHEMA/,
    );
    expect(() => resolvePolicy({ tls: { ca: ['not a certificate'] } })).toThrow(/PF_ERR_SCHEMA/);
  });
});

describe('when a stub connects', () => {
  const NAME = 'node.probe-policy.test';
  let server: WebSocketServer;
  let port: number;
  let connections = 0;
  let work: string;
  let stubCat: TestCatalogue;
  let pkg: StubPackage;

  beforeAll(async () => {
    server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    server.on('connection', () => {
      connections += 1;
    });
    await new Promise((resolve) => server.once('listening', resolve));
    port = (server.address() as AddressInfo).port;
    // The probe stub, published by its own domain with an endpoint on its own subdomain.
    work = await mkdtemp(join(tmpdir(), 'pf-policy-'));
    await cp(PROBE, join(work, 'probe'), { recursive: true });
    const manifestFile = join(work, 'probe', 'protofly.json');
    const manifest = JSON.parse(await readFile(manifestFile, 'utf8'));
    manifest.constraints = { ...manifest.constraints, endpoints: [`ws://${NAME}:*/`], maxTimers: 2 };
    await writeFile(manifestFile, JSON.stringify(manifest));
    stubCat = await testCatalogue('probe-policy.test');
    await stubCat.publish(join(work, 'probe'), true);
    pkg = (await new Loader({
      trust: new TrustStore({ mode: 'pinned', pinned: { 'probe-policy.test': [stubCat.key.publicJwk] } }),
      catalogue: new CatalogueClient({ catalogues: { 'probe-policy.test': stubCat.url } }),
    }).load({ domain: 'probe-policy.test' })) as StubPackage;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
    await stubCat.close();
    await rm(work, { recursive: true, force: true });
  });

  /** A resolver standing in for DNS: the stub's own name answers with a loopback address (rebinding). */
  const rebinding = webSocketFactory((hostname, _options, callback) => {
    if (hostname === NAME) callback(null, [{ address: '127.0.0.1', family: 4 }]);
    else callback(Object.assign(new Error(`ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' }), []);
  });

  async function connectThrough(policy: PolicyOption | undefined) {
    const host = new NodeWorkerHost({ ...(policy ? { policy } : {}), openSocket: rebinding, log: quietLog });
    const bus = new Bus({ onError: () => {} });
    const c = await converse(host, bus, pkg);
    const res = await c.execute('connect', { url: `ws://${NAME}:${port}/` });
    expect(res.body).toMatchObject({ code: 200, value: 'connecting' });
    return {
      c,
      close: async () => {
        await host.terminate();
        bus.close();
      },
    };
  }

  it('refuses plain ws:// under the default policy, naming the URL and endpoints.plainWebSocket: nothing is connected', async () => {
    const before = connections;
    const { c, close } = await connectThrough(undefined);
    try {
      await eventually(() => c.refusals.length > 0, 'the refusal is reported');
      expect(c.refusals[0]!.code).toBe('PF_ERR_POLICY');
      expect(c.refusals[0]!.message).toContain(`ws://${NAME}:${port}/`);
      expect(c.refusals[0]!.detail).toMatchObject({ policy: 'endpoints.plainWebSocket' });
      await eventually(
        () => c.updates.some((u) => (u.body as { value?: { event?: string } }).value?.event === 'close'),
        'the stub sees its socket closed',
      );
      // 1006 with the code: what no peer can send, so the stub can tell the runtime refused.
      const closed = c.updates.find(
        (u) => (u.body as { value?: { event?: string } }).value?.event === 'close',
      );
      expect((closed!.body as { value: unknown }).value).toMatchObject({
        code: 1006,
        reason: 'PF_ERR_POLICY',
      });
      expect(connections).toBe(before);
    } finally {
      await close();
    }
  });

  it('refuses a name that resolves to loopback where plain ws:// is allowed but loopback is not: nothing is connected', async () => {
    const before = connections;
    const { c, close } = await connectThrough({ endpoints: { plainWebSocket: 'always' } });
    try {
      await eventually(() => c.refusals.length > 0, 'the refusal is reported');
      expect(c.refusals[0]!.code).toBe('PF_ERR_POLICY');
      expect(c.refusals[0]!.detail).toMatchObject({ policy: 'endpoints.addresses', host: '127.0.0.1' });
      await eventually(
        () => c.updates.some((u) => (u.body as { value?: { event?: string } }).value?.event === 'close'),
        'the stub sees its socket closed',
      );
      expect(c.updates.map((u) => (u.body as { value: { event: string } }).value.event)).not.toContain(
        'open',
      );
      expect(connections).toBe(before);
    } finally {
      await close();
    }
  });

  it('connects to the same name under a policy allowing loopback (and plain ws:// to any name)', async () => {
    const before = connections;
    const { c, close } = await connectThrough({
      ...developmentPolicy,
      endpoints: { addresses: ['loopback'], plainWebSocket: 'always' },
    });
    try {
      await eventually(
        () => c.updates.some((u) => (u.body as { value?: { event?: string } }).value?.event === 'open'),
        'the socket opens',
      );
      expect(connections).toBe(before + 1);
      expect(c.refusals).toEqual([]);
    } finally {
      await close();
    }
  });

  it('holds the timers the descriptor asked for, fewer than the ceiling', async () => {
    const { c, close } = await connectThrough(developmentPolicy);
    try {
      expect((await c.execute('timer', { ms: 60_000 })).body.code).toBe(200);
      expect((await c.execute('timer', { ms: 60_000 })).body.code).toBe(200);
      const third = await c.execute('timer', { ms: 60_000 });
      expect(third.body).toMatchObject({ code: 500, value: { code: 'PF_ERR_FLOOD' } });
    } finally {
      await close();
    }
  });

  it('a host refuses a package asking more memory than its own ceiling, and one whose endpoints its policy refuses', async () => {
    const small = new NodeWorkerHost({ memoryMb: 32, policy: developmentPolicy, log: quietLog });
    const strict = new NodeWorkerHost({ log: quietLog });
    const bus = new Bus({ onError: () => {} });
    try {
      const err = await converse(small, bus, pkg).catch((e: unknown) => e);
      expect(isProtoflyError(err, 'PF_ERR_POLICY'), String(err)).toBe(true);
      expect((err as ProtoflyError).detail).toMatchObject({
        policy: 'limits.memoryMb',
        asked: 64,
        ceiling: 32,
      });
      const loopback = structuredClone(pkg);
      (loopback.descriptor.constraints as { endpoints: string[] }).endpoints = ['ws://127.0.0.1:*/'];
      const refused = await converse(strict, bus, loopback).catch((e: unknown) => e);
      expect(isProtoflyError(refused, 'PF_ERR_POLICY'), String(refused)).toBe(true);
      expect((refused as ProtoflyError).detail).toMatchObject({ policy: 'endpoints.addresses' });
    } finally {
      await small.terminate();
      await strict.terminate();
      bus.close();
    }
  });
});

const quietLog = { debug() {}, info() {}, warn() {}, error() {} };
