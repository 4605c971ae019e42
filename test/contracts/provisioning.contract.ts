import { describe, expect, it } from 'vitest';
import type { Identity, Provisioning } from '../../server/services/service.js';
import { BACKENDS_DOMAIN } from '../support/backends.js';

/** A Provisioning backend under test, over an identity, with `admins` its administrators. */
export interface ProvisioningSubject {
  readonly name: string;
  create(admins: string[]): Promise<{ provisioning: Provisioning; identity: Identity }>;
}

/** What every Provisioning backend does. */
export function provisioningContract(subject: ProvisioningSubject): void {
  describe(`Provisioning contract: ${subject.name}`, () => {
    it("changes the identity's users: who can sign in follows", async () => {
      const { provisioning, identity } = await subject.create([]);
      await provisioning.create('carol', 'carol pass');
      expect(await identity.authenticate('carol', 'carol pass')).toBe(`user://${BACKENDS_DOMAIN}/carol`);
      await provisioning.update('carol', { disabled: true });
      expect(await identity.authenticate('carol', 'carol pass')).toBeUndefined();
      expect(await provisioning.list()).toEqual([{ name: 'carol', disabled: true }]);
      await expect(provisioning.create('carol', 'x pass')).rejects.toThrow(/PF_ERR_EXISTS/);
    });

    it('calls administrators the users it was configured with, of its own domain only', async () => {
      const { provisioning } = await subject.create(['root']);
      expect(provisioning.isAdmin(`user://${BACKENDS_DOMAIN}/root`)).toBe(true);
      expect(provisioning.isAdmin(`user://${BACKENDS_DOMAIN}/carol`)).toBe(false);
      expect(provisioning.isAdmin('user://other.example/root')).toBe(false);
    });
  });
}
