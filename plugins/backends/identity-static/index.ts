import { resolve } from 'node:path';
import { httpKeysOf } from '../../../server/services/keys-of.js';
import type { Backend } from '../../../server/services/service.js';
import { type SigningKey, StaticIdentity } from './static-identity.js';
import { UserStore } from './user-store.js';
import { parseUsers } from './users-file.js';

/** identity-static: the domain's users in a file (or inline), tokens signed with the domain's key. */
const backend: Backend<'identity'> = {
  service: 'identity',
  create(ctx) {
    const { usersFile, users, ttlSeconds } = ctx.config as {
      usersFile: string;
      users?: Record<string, unknown>;
      ttlSeconds: number;
    };
    return new StaticIdentity({
      domain: ctx.domain,
      key: ctx.key as SigningKey,
      users: users
        ? new UserStore({ users: parseUsers({ users }, 'identity-static config /users') })
        : new UserStore({ file: resolve(ctx.dataDir, usersFile), write: ctx.writeAtomic }),
      ttlSeconds,
      keysOf: httpKeysOf({ origins: ctx.peers }),
      ...(ctx.allowDomains ? { allowDomains: ctx.allowDomains } : {}),
    });
  },
};
export default backend;
