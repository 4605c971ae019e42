import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { asProtoflyError, ProtoflyError } from '../../core/errors.js';
import type { User } from '../../core/generated/types.js';
import { validateUserCreate, validateUserUpdate } from '../../core/generated/validators.js';
import { assertValid } from '../../core/validate.js';
import type { Identity, Provisioning, UserRecord } from '../services/service.js';
import { TokenBucket } from '../services/token-bucket.js';

/** Where the API lives on the admin port. */
export const PROVISIONING_PATH = '/provisioning/v1/users';
const MAX_BODY_BYTES = 16 * 1024;

/**
 * The provisioning REST API (Sippo's SAPI idea), on a node's admin port:
 *
 * - `GET /provisioning/v1/users` → 200 `UserList`
 * - `POST /provisioning/v1/users` with a `UserCreate` → 201 `User`
 * - `GET /provisioning/v1/users/<name>` → 200 `User`
 * - `PATCH /provisioning/v1/users/<name>` with a `UserUpdate` → 200 `User`
 *
 * Bodies are schemas/provisioning.schema.json's. Every request carries HTTP Basic credentials
 * of a user the Provisioning service calls an administrator, checked by the Identity service;
 * failed checks are rate limited for the whole port (they cost a password hash each).
 * Refusals are `ApiError` bodies with the protofly error code, and its status (core/errors.ts);
 * a failure of ours is a 500 whose cause is logged.
 */
export function provisioningApi(
  provisioning: Provisioning,
  identity: Pick<Identity, 'authenticate'>,
  log: Logger,
): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  const failures = new TokenBucket(1, 10);
  /** After a burst of failures, sign-ins are refused unchecked until then (each check costs a hash). */
  let lockedUntil = 0;
  const domainOf = (address: string) => address.slice('user://'.length, address.lastIndexOf('/'));

  async function admin(req: IncomingMessage): Promise<string> {
    if (performance.now() < lockedUntil) {
      throw new ProtoflyError('PF_ERR_FLOOD', 'too many failed sign-ins; try again in a second');
    }
    const [scheme, encoded] = (req.headers.authorization ?? '').split(' ');
    const decoded = scheme === 'Basic' && encoded ? Buffer.from(encoded, 'base64').toString('utf8') : '';
    const colon = decoded.indexOf(':');
    const name = decoded.slice(0, Math.max(colon, 0));
    const address = colon > 0 ? await identity.authenticate(name, decoded.slice(colon + 1)) : undefined;
    if (!address) {
      if (!failures.take()) lockedUntil = performance.now() + 1000;
      throw new ProtoflyError(
        'PF_ERR_AUTH',
        `no valid administrator credentials${name ? ` for '${name}'` : ''}`,
      );
    }
    if (!provisioning.isAdmin(address)) {
      throw new ProtoflyError('PF_ERR_FORBIDDEN', `${address} is not an administrator`, { address });
    }
    return address;
  }

  return async (req, res) => {
    try {
      const by = await admin(req);
      const url = new URL(req.url ?? '/', 'http://admin');
      const view = (u: UserRecord): User => ({
        name: u.name,
        address: `user://${domainOf(by)}/${u.name}`,
        disabled: u.disabled,
      });
      if (url.pathname === PROVISIONING_PATH) {
        if (req.method === 'GET') return reply(res, 200, { users: (await provisioning.list()).map(view) });
        if (req.method === 'POST') {
          const body = await readJson(req);
          assertValid(validateUserCreate, body, 'user to create');
          const created = await provisioning.create(body.name, body.password);
          log.info({ by, user: body.name }, 'user created');
          return reply(res, 201, view(created));
        }
        throw notAllowed(res, req, 'GET, POST');
      }
      if (!url.pathname.startsWith(`${PROVISIONING_PATH}/`)) {
        throw new ProtoflyError('PF_ERR_NOT_FOUND', `nothing at ${url.pathname}`);
      }
      const name = decodeURIComponent(url.pathname.slice(PROVISIONING_PATH.length + 1));
      if (req.method === 'GET') {
        const user = (await provisioning.list()).find((u) => u.name === name);
        if (!user) throw new ProtoflyError('PF_ERR_NOT_FOUND', `no user '${name}'`, { name });
        return reply(res, 200, view(user));
      }
      if (req.method === 'PATCH') {
        const body = await readJson(req);
        assertValid(validateUserUpdate, body, 'user change');
        const updated = await provisioning.update(name, body);
        log.info(
          { by, user: name, disabled: body.disabled, password: body.password !== undefined },
          'user changed',
        );
        return reply(res, 200, view(updated));
      }
      throw notAllowed(res, req, 'GET, PATCH');
    } catch (err) {
      const e = asProtoflyError(err, 'PF_ERR_INTERNAL');
      if (e.status === 500) log.error({ err }, 'provisioning failed');
      if (e.status === 401) res.setHeader('www-authenticate', 'Basic realm="protofly provisioning"');
      reply(res, e.status, { error: { code: e.code, message: e.message.slice(e.code.length + 2) } });
    }
  };
}

/** `PF_ERR_METHOD`, with the Allow header RFC 9110 §15.5.6 asks for. */
function notAllowed(res: ServerResponse, req: IncomingMessage, allow: string): ProtoflyError {
  res.setHeader('allow', allow);
  return new ProtoflyError('PF_ERR_METHOD', `${req.method} is not allowed here; ${allow} are`);
}

function reply(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}

/** The request body as JSON, refused past MAX_BODY_BYTES. */
async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).byteLength;
    if (size > MAX_BODY_BYTES) {
      throw new ProtoflyError('PF_ERR_TOO_LARGE', `request body over ${MAX_BODY_BYTES} bytes`, {
        limit: MAX_BODY_BYTES,
      });
    }
    chunks.push(chunk as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new ProtoflyError('PF_ERR_SCHEMA', 'request body is not JSON', { pointer: '' });
  }
}
