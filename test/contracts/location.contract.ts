import { afterEach, describe, expect, it } from 'vitest';
import type { Binding, Location } from '../../server/services/service.js';

/** A Location backend under test: `create` makes one; the same `namespace` names the same shared store. */
export interface LocationSubject {
  readonly name: string;
  create(options: { retainSeconds: number; namespace: string }): Promise<Location>;
}

const BOB = 'user://b.example/bob';
const PHONE = 'hyperty://b.example/phone';
const ALICE = 'user://b.example/alice';

/**
 * What every Location backend does (one suite, every backend: Hono's router tests). The
 * messaging node relies on each of these.
 */
export function locationContract(subject: LocationSubject): void {
  describe(`Location contract: ${subject.name}`, () => {
    const made: Location[] = [];
    let n = 0;
    const make = async (retainSeconds = 300, namespace = `ns${++n}-${Date.now()}`) => {
      const l = await subject.create({ retainSeconds, namespace });
      made.push(l);
      return l;
    };
    afterEach(async () => {
      await Promise.all(made.splice(0).map((l) => l.close?.()));
    });
    const reg = (over: Partial<Binding> = {}): Binding => ({
      address: BOB,
      owner: BOB,
      node: 'n1',
      session: 'n1.1',
      since: Date.now(),
      expires: Date.now() + 60_000,
      ...over,
    });

    it('finds every session of an address, newest first, and nothing for another', async () => {
      const location = await make();
      const older = reg({ since: 1000 });
      const newer = reg({ session: 'n2.7', node: 'n2', since: 2000 });
      expect(await location.register(older)).toBe(true);
      expect(await location.register(newer)).toBe(true);
      expect(await location.lookup(BOB)).toEqual([newer, older]);
      expect(await location.lookup(ALICE)).toEqual([]);
    });

    it('forgets one session and keeps the others', async () => {
      const location = await make();
      const one = reg();
      const two = reg({ session: 'n1.2' });
      await location.register(one);
      await location.register(two);
      await location.unregister(BOB, 'n1.1');
      expect(await location.lookup(BOB)).toEqual([two]);
      await location.unregister(BOB, 'n1.2');
      await location.unregister(BOB, 'n1.2');
      expect(await location.lookup(BOB)).toEqual([]);
    });

    it('renews a registration in place', async () => {
      const location = await make();
      await location.register(reg({ expires: Date.now() + 1000 }));
      const renewed = reg({ expires: Date.now() + 90_000 });
      await location.register(renewed);
      expect(await location.lookup(BOB)).toEqual([renewed]);
    });

    it('stops counting a registration past its expiry', async () => {
      const location = await make();
      await location.register(reg({ expires: Date.now() + 100 }));
      const lasting = reg({ session: 'n1.2' });
      await location.register(lasting);
      await new Promise((r) => setTimeout(r, 200));
      expect(await location.lookup(BOB)).toEqual([lasting]);
    });

    it('gives a hyperty address to its first owner, keeps it theirs after they leave, and back to them', async () => {
      const location = await make();
      const alices = reg({ address: PHONE, owner: ALICE, session: 'n1.3' });
      expect(await location.register(alices)).toBe(true);
      expect(await location.register(reg({ address: PHONE, owner: BOB, session: 'n1.4' }))).toBe(false);
      expect(await location.lookup(PHONE)).toEqual([alices]);
      await location.unregister(PHONE, 'n1.3');
      expect(await location.register(reg({ address: PHONE, owner: BOB, session: 'n1.4' }))).toBe(false);
      const back = reg({ address: PHONE, owner: ALICE, session: 'n2.1', node: 'n2' });
      expect(await location.register(back)).toBe(true);
      expect(await location.lookup(PHONE)).toEqual([back]);
    });

    it('lets another owner have a hyperty address once its retention is over', async () => {
      const location = await make(0);
      await location.register(reg({ address: PHONE, owner: ALICE }));
      await location.unregister(PHONE, 'n1.1');
      expect(await location.register(reg({ address: PHONE, owner: BOB, session: 'n1.2' }))).toBe(true);
    });

    it('tells a shared instance that had looked an address up of a session arriving and leaving', async () => {
      const first = await make(300, 'changes');
      const second = await make(300, 'changes');
      if (first.scope !== 'shared') return;
      // Looked up (and kept, for a backend that caches) before each change.
      expect(await second.lookup(BOB)).toEqual([]);
      const r = reg({ node: 'n2', session: 'n2.9' });
      await first.register(r);
      await expect.poll(() => second.lookup(BOB)).toEqual([r]);
      const renewed = reg({ node: 'n2', session: 'n2.9', expires: Date.now() + 90_000 });
      await first.register(renewed);
      expect((await second.lookup(BOB)).map((b) => b.session)).toEqual(['n2.9']);
      await first.unregister(BOB, r.session);
      await expect.poll(() => second.lookup(BOB)).toEqual([]);
    });

    it('forgets a looked-up binding at its expiry, even when nothing was announced', async () => {
      const location = await make();
      await location.register(reg({ expires: Date.now() + 100 }));
      expect(await location.lookup(BOB)).toHaveLength(1);
      await new Promise((r) => setTimeout(r, 200));
      expect(await location.lookup(BOB)).toEqual([]);
    });

    it('is seen by another instance exactly when its scope is shared', async () => {
      const first = await make(300, 'shared');
      const second = await make(300, 'shared');
      const r = reg();
      await first.register(r);
      expect(await second.lookup(BOB)).toEqual(first.scope === 'shared' ? [r] : []);
      await first.unregister(BOB, r.session);
    });
  });
}
