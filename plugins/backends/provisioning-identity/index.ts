import { userAddress } from '../../../core/address.js';
import { ProtoflyError } from '../../../core/errors.js';
import { type Backend, type Provisioning, TOKENS } from '../../../server/services/service.js';

/**
 * provisioning-identity: the users of the identity service, as its directory keeps them, for
 * the domain's administrators (`admins`). An identity backend without a directory cannot be
 * provisioned: refused at start, not at the first request.
 */
const backend: Backend<'provisioning'> = {
  service: 'provisioning',
  create(ctx): Provisioning {
    const users = ctx.resolve(TOKENS.identity).users;
    if (!users) {
      throw new ProtoflyError(
        'PF_ERR_CONFIG',
        `services.provisioning: the identity backend of ${ctx.domain} keeps no user directory to provision`,
      );
    }
    const admins = new Set((ctx.config.admins as string[]).map((name) => userAddress(ctx.domain, name)));
    return {
      list: () => users.list(),
      create: (name, password) => users.create(name, password),
      update: (name, change) => users.update(name, change),
      isAdmin: (address) => admins.has(address),
    };
  },
};
export default backend;
