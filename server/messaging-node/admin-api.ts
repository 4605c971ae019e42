import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { asProtoflyError, ProtoflyError } from '../../core/errors.js';
import type { Identity, Provisioning } from '../services/service.js';
import { TokenBucket } from '../services/token-bucket.js';

const MAX_BODY_BYTES = 16 * 1024;

/** An admin port REST API's handler, given the administrator who asked. */
export type AdminHandler = (req: IncomingMessage, res: ServerResponse, by: string) => Promise<void>;

/** A REST API of the admin port, as the admin server calls it. */
export type AdminApi = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

/** Makes an admin port REST API of a handler: `what` names it in logs and the Basic realm. */
export type AdminApis = (what: string, handle: AdminHandler) => AdminApi;

/**
 * What the admin port's REST APIs (provisioning, policy) share: every request carries HTTP
 * Basic credentials of a user the Provisioning service calls an administrator, checked by the
 * Identity service; failed checks are rate limited for the whole port, across its APIs (they
 * cost a password hash each). Refusals are `ApiError` bodies (`{ error: { code, message } }`)
 * with the protofly code's status (core/errors.ts); a failure of ours is a 500 whose cause is
 * logged.
 */
export function adminApis(
  provisioning: Pick<Provisioning, 'isAdmin'>,
  identity: Pick<Identity, 'authenticate'>,
  log: Logger,
): AdminApis {
  const failures = new TokenBucket(1, 10);
  /** After a burst of failures, sign-ins are refused unchecked until then (each check costs a hash). */
  let lockedUntil = 0;

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

  /** `handle` behind the administrator check, its refusals and failures as ApiError bodies. */
  return (what, handle) => async (req, res) => {
    try {
      await handle(req, res, await admin(req));
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
