import { describe, expect, it } from 'vitest';
import type { CodeGrant, Identity } from '../../server/services/service.js';
import { BACKENDS_DOMAIN } from '../support/backends.js';

/** An Identity backend under test, of domain backends.test, whose directory starts empty. */
export interface IdentitySubject {
  readonly name: string;
  create(): Promise<Identity>;
  /** What it offers beyond tokens; one it does not offer is checked to be absent, and said so. */
  readonly offers: {
    /** It checks passwords and keeps a directory of users (`users`). */
    readonly directory: boolean;
    /** Its users log in at a provider: an authorization code for user `name` from that provider, new at each call. */
    readonly codeFor?: (name: string) => Promise<CodeGrant>;
  };
}

const ALICE = `user://${BACKENDS_DOMAIN}/alice`;

/** What every Identity backend does; the directory and the external log-in for those that offer them. */
export function identityContract(subject: IdentitySubject): void {
  const { directory, codeFor } = subject.offers;
  const offered = (title: string, has: boolean, run: () => Promise<void>, absent: () => Promise<void>) => {
    if (has) it(title, run);
    else it(`${title}: not offered`, absent);
  };
  const noDirectory = async () => {
    const identity = await subject.create();
    expect(identity.users).toBeUndefined();
    expect(await identity.authenticate('alice', 'correct horse')).toBeUndefined();
  };

  describe(`Identity contract: ${subject.name}`, () => {
    offered(
      'authenticates a user by password, and nobody with a wrong one',
      directory,
      async () => {
        const identity = await subject.create();
        await identity.users?.create('alice', 'correct horse');
        expect(await identity.authenticate('alice', 'correct horse')).toBe(ALICE);
        expect(await identity.authenticate('alice', 'wrong horse')).toBeUndefined();
        expect(await identity.authenticate('nobody', 'correct horse')).toBeUndefined();
      },
      noDirectory,
    );

    it('issues tokens its own verification accepts, for its users only, for an audience', async () => {
      const identity = await subject.create();
      expect(await identity.verify(await identity.issue(ALICE))).toBe(ALICE);
      await expect(identity.verify(await identity.issue(ALICE, 60, 'other.example'))).rejects.toThrow(
        /PF_ERR_AUTH/,
      );
      await expect(identity.issue('user://other.example/bob')).rejects.toThrow(/PF_ERR_FORBIDDEN/);
      await expect(identity.verify('garbage')).rejects.toThrow(/PF_ERR_AUTH/);
    });

    offered(
      'keeps a directory: create, refuse a taken name, disable, enable, change the password',
      directory,
      async () => {
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
      },
      noDirectory,
    );

    offered(
      "logs a user in with a provider's authorization code, once: tokens for them, the same code refused",
      codeFor !== undefined,
      async () => {
        const identity = await subject.create();
        const grant = await codeFor!('alice');
        expect(await identity.exchange!(grant)).toBe(ALICE);
        expect(await identity.active?.(ALICE)).not.toBe(false);
        expect(await identity.verify(await identity.issue(ALICE))).toBe(ALICE);
        await expect(identity.exchange!(grant)).rejects.toThrow(/^PF_ERR_AUTH: /);
      },
      async () => {
        expect((await subject.create()).exchange).toBeUndefined();
      },
    );
  });
}
