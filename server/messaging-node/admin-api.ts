import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { asProtoflyError, ProtoflyError } from '../../core/errors.js';
import type { Identity, Provisioning } from '../services/service.js';
import { TokenBucket } from '../services/token-bucket.js';

const MAX_BODY_BYTES = 16 * 1024;

/** Who an admin request is from: the administrator's address, or a coded refusal. */
export type AdminGate = (req: IncomingMessage) => Promise<string>;

/**
 * The check every REST API of the admin port (provisioning, address book, policy) makes: HTTP Basic credentials of a user the
 * Provisioning service calls an administrator, checked by the Identity service. Failed checks
 * are rate limited for the whole port, every API sharing this gate (they cost a password hash
 * each).
 *
 * @returns a gate that throws `PF_ERR_AUTH` (no valid credentials), `PF_ERR_FORBIDDEN` (not an
 *   administrator) or `PF_ERR_FLOOD` (too many failures just now).
 */
export function adminGate(provisioning: Provisioning, identity: Pick<Identity, 'authenticate'>): AdminGate {
  const failures = new TokenBucket(1, 10);
  /** After a burst of failures, sign-ins are refused unchecked until then (each check costs a hash). */
  let lockedUntil = 0;
  return async (req) => {
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
  };
}

/**
 * One REST API of the admin port: each request passes `gate`, then `handle` answers it (with
 * {@link reply}). A refusal is an `ApiError` body (schemas/provisioning.schema.json) with the
 * protofly error code and its status (core/errors.ts); a failure of ours is a 500 whose cause
 * is logged as `what` failing.
 */
export function adminEndpoint(
  gate: AdminGate,
  log: Logger,
  what: string,
  handle: (req: IncomingMessage, res: ServerResponse, by: string, url: URL) => Promise<void>,
): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  return async (req, res) => {
    try {
      const by = await gate(req);
      await handle(req, res, by, new URL(req.url ?? '/', 'http://admin'));
    } catch (err) {
      const e = asProtoflyError(err, 'PF_ERR_INTERNAL');
      if (e.status === 500) log.error({ err }, `${what} failed`);
      if (e.status === 401) res.setHeader('www-authenticate', `Basic realm="protofly ${what}"`);
      reply(res, e.status, { error: { code: e.code, message: e.message.slice(e.code.length + 2) } });
    }
  };
}

/** `PF_ERR_METHOD`, with the Allow header RFC 9110 §15.5.6 asks for. */
export function notAllowed(res: ServerResponse, req: IncomingMessage, allow: string): ProtoflyError {
  res.setHeader('allow', allow);
  return new ProtoflyError('PF_ERR_METHOD', `${req.method} is not allowed here; ${allow} are`);
}

export function reply(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}

/** The request body as JSON, refused past `limit` bytes (default 16 KiB). */
export async function readJson(req: IncomingMessage, limit = MAX_BODY_BYTES): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).byteLength;
    if (size > limit) {
      throw new ProtoflyError('PF_ERR_TOO_LARGE', `request body over ${limit} bytes`, { limit });
    }
    chunks.push(chunk as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new ProtoflyError('PF_ERR_SCHEMA', 'request body is not JSON', { pointer: '' });
  }
}
