import 'reflect-metadata';
import type { DependencyContainer } from 'tsyringe';
import { ProtoflyError } from './errors.js';
import type { ServiceName } from './generated/types.js';

/**
 * Services and backends (Sippo's idea): a *service* is what a domain offers, a
 * *backend* is how. Services are tsyringe tokens declared here; backends live in
 * plugins/backends and a domain config picks them.
 *
 * Tokens are `Symbol.for` symbols so that separately bundled backends name the same
 * token. Every injected constructor parameter must say `@inject(TOKEN)`: bundlers
 * drop decorator metadata silently.
 */

/** A service token that remembers the interface it stands for. */
export type ServiceToken<T> = symbol & { readonly __service?: T };

/** A user's credentials check and the tokens that prove who they are. */
export interface Identity {
  /** The user's address when the password is right, else undefined. */
  authenticate(name: string, password: string): Promise<string | undefined>;
  /** A short-lived signed token for `address`. */
  issue(address: string, ttlSeconds?: number): Promise<string>;
  /** The address a token proves, or a coded error. */
  verify(token: string): Promise<string>;
}

/** A session of a user on a node. */
export interface Registration {
  readonly address: string;
  readonly session: string;
  readonly node: string;
  readonly expires: number;
}

/** Where users are connected. */
export interface Location {
  register(reg: Registration): Promise<void>;
  unregister(address: string, session: string): Promise<void>;
  lookup(address: string): Promise<readonly Registration[]>;
}

/** Message delivery between the nodes of one domain. */
export interface Cluster {
  readonly node: string;
  deliver(node: string, session: string, frame: string): Promise<void>;
  onDeliver(handler: (session: string, frame: string) => void): void;
  nodes(): Promise<readonly string[]>;
}

/** One conversation's detail record. */
export interface CdrRecord {
  readonly conversation: string;
  readonly parties: readonly string[];
  readonly protocol: string;
  readonly stub: string;
  readonly start: number;
  end?: number;
  outcome?: string;
  messages: number;
}

/** Call and chat detail records. */
export interface Cdr {
  open(record: CdrRecord): Promise<void>;
  close(conversation: string, outcome: string, messages: number, end?: number): Promise<void>;
  list(filter?: { since?: number; party?: string }): Promise<readonly CdrRecord[]>;
}

/** The users of a domain. */
export interface Provisioning {
  create(name: string, password: string): Promise<void>;
  disable(name: string): Promise<void>;
  setPassword(name: string, password: string): Promise<void>;
  list(): Promise<readonly { name: string; disabled: boolean }[]>;
}

/** What each service token stands for. */
export interface Services {
  identity: Identity;
  location: Location;
  cluster: Cluster;
  cdr: Cdr;
  provisioning: Provisioning;
}

function token<K extends ServiceName>(name: K): ServiceToken<Services[K]> {
  return Symbol.for(`protofly.service.${name}`);
}

/** The service tokens. */
export const TOKENS: { readonly [K in ServiceName]: ServiceToken<Services[K]> } = {
  identity: token('identity'),
  location: token('location'),
  cluster: token('cluster'),
  cdr: token('cdr'),
  provisioning: token('provisioning'),
};

/** What a backend is given when it is created. */
export interface BackendContext {
  readonly domain: string;
  /** Validated against the backend descriptor's configuration schema. */
  readonly config: Readonly<Record<string, unknown>>;
  /** Another service this backend builds on (provisioning over identity, cluster over location). */
  resolve<T>(token: ServiceToken<T>): T;
}

/** A backend package's default export. */
export interface Backend<K extends ServiceName = ServiceName> {
  readonly service: K;
  create(ctx: BackendContext): Services[K] | Promise<Services[K]>;
}

/**
 * Creates a backend's service and registers it in `container` under its token.
 *
 * @throws ProtoflyError `PF_ERR_CONFIG` when the backend serves another service.
 */
export async function registerBackend<K extends ServiceName>(
  container: DependencyContainer,
  service: K,
  backend: Backend,
  ctx: Omit<BackendContext, 'resolve'>,
): Promise<Services[K]> {
  if (backend.service !== service) {
    throw new ProtoflyError(
      'PF_ERR_CONFIG',
      `backend for '${backend.service}' was configured to serve '${service}'`,
      {
        service,
        backend: backend.service,
      },
    );
  }
  const instance = (await backend.create({ ...ctx, resolve: (t) => container.resolve(t) })) as Services[K];
  container.registerInstance(TOKENS[service], instance);
  return instance;
}
