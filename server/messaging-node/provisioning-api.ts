import type { Logger } from 'pino';
import { ProtoflyError } from '../../core/errors.js';
import type { User } from '../../core/generated/types.js';
import { validateUserCreate, validateUserUpdate } from '../../core/generated/validators.js';
import { assertValid } from '../../core/validate.js';
import type { Provisioning, UserRecord } from '../services/service.js';
import { type AdminApi, type AdminApis, notAllowed, readJson, reply } from './admin-api.js';

/** Where the API lives on the admin port. */
export const PROVISIONING_PATH = '/provisioning/v1/users';

/**
 * The provisioning REST API (Sippo's SAPI idea), on a node's admin port:
 *
 * - `GET /provisioning/v1/users` → 200 `UserList`
 * - `POST /provisioning/v1/users` with a `UserCreate` → 201 `User`
 * - `GET /provisioning/v1/users/<name>` → 200 `User`
 * - `PATCH /provisioning/v1/users/<name>` with a `UserUpdate` → 200 `User`
 *
 * Bodies are schemas/provisioning.schema.json's; administrators, refusals and failures as
 * every admin API has them (admin-api.ts).
 */
export function provisioningApi(provisioning: Provisioning, api: AdminApis, log: Logger): AdminApi {
  const domainOf = (address: string) => address.slice('user://'.length, address.lastIndexOf('/'));
  return api('provisioning', async (req, res, by) => {
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
  });
}
