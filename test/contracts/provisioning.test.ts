import { serviceOf } from '../support/backends.js';
import { provisioningContract } from './provisioning.contract.js';

provisioningContract({
  name: 'provisioning-identity over identity-static',
  async create(admins) {
    const identity = await serviceOf('identity', 'identity-static');
    const provisioning = await serviceOf('provisioning', 'provisioning-identity', { admins }, { identity });
    return { provisioning, identity };
  },
});
