import { ProtoflyError } from '../core/errors.js';
import type {
  AddressClass,
  EndpointPolicy,
  PolicyLimits,
  RuntimePolicy,
  StubDescriptor,
} from '../core/generated/types.js';
import { validateRuntimePolicy } from '../core/generated/validators.js';
import type { Descriptor } from '../core/plugin.js';
import { assertValid } from '../core/validate.js';
import { assertSafeSchema, type SchemaBounds } from './safe-schema.js';
import { addressClass } from './special-address.js';

/**
 * The runtime policy (`schemas/runtime-policy.schema.json`): what any remote descriptor may
 * ask of this runtime. The loader checks every descriptor against it before fetching its
 * package; the sandbox hosts take their ceilings from it and check endpoints again when a
 * stub connects (the address DNS gives included). Safe by default: a runtime given no policy
 * reaches no loopback, private, link-local or otherwise special address.
 */

export type { RuntimePolicy };

/** A policy as options take it: one of its own, or a built-in one by name. */
export type PolicyOption = RuntimePolicy | 'default' | 'development';

/** The safe default: every field at its schema default. */
export const defaultPolicy: RuntimePolicy = Object.freeze({});

/**
 * For tests, demos and a domain on one machine (`protofly serve`, whose stubs reach its node
 * on loopback; `protofly dev`): the safe default, loopback addresses allowed for every domain's
 * stubs, over plain `ws://` too (the traffic never leaves the machine), and descriptors signed
 * by development keys accepted.
 */
export const developmentPolicy: RuntimePolicy = Object.freeze({
  endpoints: Object.freeze({
    addresses: Object.freeze(['loopback'] as AddressClass[]) as AddressClass[],
    plainWebSocket: 'loopback' as const,
  }),
  developmentKeys: true,
});

/** A policy with every default filled in. */
export interface ResolvedPolicy {
  readonly developmentKeys: boolean;
  readonly hosts: Readonly<Record<string, readonly string[] | undefined>>;
  readonly addresses: ReadonlySet<AddressClass>;
  readonly plainWebSocket: NonNullable<EndpointPolicy['plainWebSocket']>;
  /** Certificate authorities (PEM) a stub's `wss://` connections trust besides the bundled roots. */
  readonly ca: readonly string[];
  readonly limits: Readonly<Required<PolicyLimits>>;
  readonly origins: readonly string[];
  readonly configurationSchema: SchemaBounds;
}

/** The host's ceilings when the policy names none. */
export const DEFAULT_CEILINGS: Readonly<Required<PolicyLimits>> = {
  memoryMb: 64,
  watchdogMs: 2000,
  maxTimers: 1024,
  maxSocketsPerSession: 8,
  messagesPerSecond: 100_000,
};

const resolved = new WeakMap<RuntimePolicy, ResolvedPolicy>();

/**
 * The policy `option` names, checked against its schema, with every default filled in.
 *
 * @throws ProtoflyError `PF_ERR_SCHEMA` naming the offending setting.
 */
export function resolvePolicy(option: PolicyOption = 'default'): ResolvedPolicy {
  const policy = option === 'default' ? defaultPolicy : option === 'development' ? developmentPolicy : option;
  let done = resolved.get(policy);
  if (!done) {
    assertValid(validateRuntimePolicy, policy, 'runtime policy');
    done = {
      developmentKeys: policy.developmentKeys ?? false,
      hosts: policy.endpoints?.hosts ?? {},
      addresses: new Set(policy.endpoints?.addresses ?? []),
      plainWebSocket: policy.endpoints?.plainWebSocket ?? 'never',
      // A copy: what was checked is what is used, whatever becomes of the caller's array.
      ca: Object.freeze([...(policy.tls?.ca ?? [])]),
      limits: { ...DEFAULT_CEILINGS, ...policy.limits },
      origins: policy.packages?.origins ?? [],
      configurationSchema: { maxBytes: 16 * 1024, maxDepth: 16, ...policy.configurationSchema },
    };
    resolved.set(policy, done);
  }
  return done;
}

/**
 * Checks what a verified descriptor asks for against the policy, before anything it names is
 * fetched: its package's origin, its configuration schema, and for a stub its endpoints and
 * its limits.
 *
 * @param descriptorUrl - where the descriptor was fetched from: its origin is the catalogue's.
 * @param packageUrl - its `sourcePackage.url`, resolved against `descriptorUrl`.
 * @throws ProtoflyError `PF_ERR_POLICY` naming the policy key and the descriptor field.
 */
export function assertPolicy(
  descriptor: Descriptor,
  descriptorUrl: string,
  packageUrl: string,
  policy: ResolvedPolicy,
): void {
  const id = idOf(descriptor);
  const catalogue = new URL(descriptorUrl).origin;
  const origin = new URL(packageUrl).origin;
  if (origin !== catalogue && !policy.origins.includes(origin)) {
    throw policyError(
      'packages.origins',
      'sourcePackage/url',
      `${id}: its package is on ${origin}, neither the catalogue's origin ${catalogue} nor one the policy lists`,
      { origin },
    );
  }
  assertSafeSchema(descriptor.configuration.schema, policy.configurationSchema, id);
  if (descriptor.kind === 'stub') {
    assertEndpoints(descriptor, policy);
    for (const key of Object.keys(DEFAULT_CEILINGS) as (keyof PolicyLimits)[]) {
      withinCeiling(descriptor, key, policy.limits[key]);
    }
  }
}

/**
 * Checks who signed a descriptor: a development key (`protofly dev`'s, marked in its JWK) only
 * for a runtime whose policy accepts them, so that a throwaway key never signs for a user's
 * runtime by mistake.
 *
 * @throws ProtoflyError `PF_ERR_POLICY` naming `developmentKeys`.
 */
export function assertSigner(
  descriptor: Descriptor,
  signer: { readonly id: string; readonly development: boolean },
  policy: ResolvedPolicy,
): void {
  if (!signer.development || policy.developmentKeys) return;
  throw policyError(
    'developmentKeys',
    'signature/keyId',
    `${idOf(descriptor)} is signed by ${signer.id}, a development key (protofly dev), which this runtime does not accept: a development runtime sets developmentKeys (developmentPolicy)`,
    { key: signer.id },
  );
}

/**
 * Checks a stub descriptor's endpoint hosts: each is the carrier domain, a subdomain of it or a
 * host the policy lists for it, or an address of a class the policy allows (which then may be
 * any domain's); never a special address the policy does not allow.
 *
 * @throws ProtoflyError `PF_ERR_POLICY` naming `endpoints.addresses` or `endpoints.hosts` and
 *   the endpoint.
 */
export function assertEndpoints(descriptor: StubDescriptor, policy: ResolvedPolicy): void {
  const { domain } = descriptor;
  descriptor.constraints.endpoints.forEach((pattern, i) => {
    const field = `constraints/endpoints/${i}`;
    const host = hostOf(pattern);
    if (host === undefined) {
      throw policyError(
        'endpoints.hosts',
        field,
        `${idOf(descriptor)}: endpoint '${pattern}' has no host`,
        {},
      );
    }
    const cls = addressClass(host);
    if (cls !== undefined) {
      assertAddress(host, policy, field, `${idOf(descriptor)}: endpoint '${pattern}'`);
      return;
    }
    const name = host.replace(/\.$/, '');
    if (name === domain || name.endsWith(`.${domain}`) || policy.hosts[domain]?.includes(name)) return;
    throw policyError(
      'endpoints.hosts',
      field,
      `${idOf(descriptor)}: endpoint '${pattern}' is on ${name}, neither ${domain} nor a subdomain of it nor a host the policy lists for it`,
      { host: name },
    );
  });
}

/**
 * Checks a host name or IP address a stub would reach: refused when it is in a special class
 * (loopback, private, link-local, special) the policy does not list.
 *
 * @param field - what names it, for the error: a descriptor field or a connection.
 * @throws ProtoflyError `PF_ERR_POLICY` naming `endpoints.addresses`.
 */
export function assertAddress(host: string, policy: ResolvedPolicy, field: string, what: string): void {
  const cls = addressClass(host);
  if (cls === undefined || policy.addresses.has(cls)) return;
  throw policyError(
    'endpoints.addresses',
    field,
    `${what} reaches ${host}, a ${cls} address, which the policy does not allow`,
    { host, class: cls },
  );
}

/**
 * Checks the scheme of a URL a stub connects to, and for plain `ws://` under `loopback` each
 * host or address it reaches (the named host, then every address it resolves to): `wss://`
 * always passes; `ws://` as `endpoints.plainWebSocket` says.
 *
 * @param url - the URL the stub opens, named in the error.
 * @param host - the URL's host, or an address it resolved to.
 * @throws ProtoflyError `PF_ERR_POLICY` naming `endpoints.plainWebSocket` and the URL.
 */
export function assertScheme(url: string, host: string, policy: ResolvedPolicy, what: string): void {
  const allowed = policy.plainWebSocket;
  if (!url.startsWith('ws:') || allowed === 'always') return;
  if (allowed === 'loopback' && addressClass(host) === 'loopback') return;
  throw policyError(
    'endpoints.plainWebSocket',
    url,
    `${what} may not open ${url}: plain ws:// ${host === new URL(url).hostname ? '' : `(${host} resolved) `}is not encrypted, and the policy's endpoints.plainWebSocket is '${allowed}'${allowed === 'never' ? ' (wss:// only)' : ' (loopback addresses only)'}`,
    { url, host },
  );
}

/**
 * The limit a stub descriptor asks for (its `constraints[key]`) under the host's `ceiling`:
 * what it asks, or the ceiling when it asks nothing.
 *
 * @throws ProtoflyError `PF_ERR_POLICY` naming `limits.<key>` when it asks for more.
 */
export function withinCeiling(descriptor: StubDescriptor, key: keyof PolicyLimits, ceiling: number): number {
  const asked = descriptor.constraints[key];
  if (asked === undefined) return ceiling;
  if (asked > ceiling) {
    throw policyError(
      `limits.${key}`,
      `constraints/${key}`,
      `${idOf(descriptor)} asks for ${key} ${asked}, over this runtime's ceiling of ${ceiling}`,
      { asked, ceiling },
    );
  }
  return asked;
}

function policyError(
  key: string,
  field: string,
  message: string,
  detail: Record<string, unknown>,
): ProtoflyError {
  return new ProtoflyError('PF_ERR_POLICY', `${message} (policy key ${key}, descriptor field ${field})`, {
    policy: key,
    field,
    ...detail,
  });
}

/** The host of an endpoint pattern as a URL parser reads it (`0x7f.1` is 127.0.0.1). */
function hostOf(pattern: string): string | undefined {
  try {
    return new URL(pattern.replace(/:\*(?=\/)/, '')).hostname || undefined;
  } catch {
    return undefined;
  }
}

function idOf(d: Descriptor): string {
  return `${d.domain}/${d.name}@${d.version}`;
}
