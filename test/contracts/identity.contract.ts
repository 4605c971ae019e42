import { describe, expect, it } from 'vitest';
import type { Identity } from '../../server/services/service.js';
import { BACKENDS_DOMAIN } from '../support/backends.js';

/** An Identity backend under test, of domain backends.test, whose directory starts empty. */
export interface IdentitySubject {
  readonly name: string;
  create(): Promise<Identity>;
}

const ALICE = `user://${BACKENDS_DOMAIN}/alice`;

/** What every Identity backend does; the directory part for those that keep one. */
export function identityContract(subject: IdentitySubject): void {
  describe(`Identity contract: ${subject.name}`, () => {
    it('authenticates a user by password, and nobody with a wrong one', async () => {
      const identity = await subject.create();
      await identity.users?.create('alice', 'correct horse');
      expect(await identity.authenticate('alice', 'correct horse')).toBe(ALICE);
      expect(await identity.authenticate('alice', 'wrong horse')).toBeUndefined();
      expect(await identity.authenticate('nobody', 'correct horse')).toBeUndefined();
    });

    it('issues tokens its own verification accepts, for its users only, for an audience', async () => {
      const identity = await subject.create();
      expect(await identity.verify(await identity.issue(ALICE))).toBe(ALICE);
      await expect(identity.verify(await identity.issue(ALICE, 60, 'other.example'))).rejects.toThrow(
        /PF_ERR_AUTH/,
      );
      await expect(identity.issue('user://other.example/bob')).rejects.toThrow(/PF_ERR_FORBIDDEN/);
      await expect(identity.verify('garbage')).rejects.toThrow(/PF_ERR_AUTH/);
    });

    it('keeps a directory: create, refuse a taken name, disable, enable, change the password', async () => {
      const identity = await subject.create();
      const users = identity.users!;
      expect(await users.create('alice', 'first pass')).toEqual({ name: 'alice', disabled: false });
      await expect(users.create('alice', 'again')).rejects.toThrow("PF_ERR_EXISTS: user 'alice' exists");
      expect(await users.update('alice', { disabled: true })).toEqual({ name: 'alice', disabled: true });
      expect(await identity.authenticate('alice', 'first pass')).toBeUndefined();
      await users.update('alice', { disabled: false, password: 'second pass' });
      expect(await identity.authenticate('alice', 'first pass')).toBeUndefined();
      expect(await identity.authenticate('alice', 'second pass')).toBe(ALICE);
      await expect(users.update('zed', { disabled: true })).rejects.toThrow(
        "PF_ERR_NOT_FOUND: no user 'zed'",
      );
      await users.create('bob', 'bob pass');
      expect(await users.list()).toEqual([
        { name: 'alice', disabled: false },
        { name: 'bob', disabled: false },
      ]);
    });
  });
}
