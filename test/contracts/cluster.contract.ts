import { afterEach, describe, expect, it } from 'vitest';
import type { Cluster } from '../../server/services/service.js';
import { RecordingMember } from '../support/cluster-member.js';

/** A Cluster backend under test: the same `namespace` names the same cluster (nodes that see each other). */
export interface ClusterSubject {
  readonly name: string;
  create(namespace: string): Promise<Cluster>;
}

const BOB = 'user://b.example/bob';
const GROUP = 'domain://msg-node.b.example/group/room';
const LIMITS = { perAddress: 3, ttlMs: 60_000 };

/** What every Cluster backend does, on one node. */
export function clusterContract(subject: ClusterSubject): void {
  describe(`Cluster contract: ${subject.name}`, () => {
    const made: Cluster[] = [];
    let n = 0;
    const join = async (namespace = `ns${++n}-${Date.now()}`) => {
      const cluster = await subject.create(namespace);
      made.push(cluster);
      const member = new RecordingMember();
      await cluster.join(member);
      return { cluster, member };
    };
    afterEach(async () => {
      await Promise.all(made.splice(0).map((c) => c.close?.()));
    });

    it('holds frames for an address and releases them once, oldest first', async () => {
      const { cluster } = await join();
      await cluster.hold(BOB, '{"n":1}', LIMITS);
      await cluster.hold(BOB, Buffer.from('{"n":2}'), LIMITS);
      await cluster.hold('user://b.example/eve', '{"n":3}', LIMITS);
      expect(await cluster.held()).toBe(3);
      expect((await cluster.release(BOB)).map((f) => Buffer.from(f).toString())).toEqual([
        '{"n":1}',
        '{"n":2}',
      ]);
      expect(await cluster.release(BOB)).toEqual([]);
      expect(await cluster.held()).toBe(1);
    });

    it('refuses a frame over the per-address bound with PF_ERR_QUEUE_FULL naming the address', async () => {
      const { cluster } = await join();
      for (let i = 0; i < 3; i++) await cluster.hold(BOB, `${i}`, LIMITS);
      await expect(cluster.hold(BOB, '3', LIMITS)).rejects.toThrow(
        `PF_ERR_QUEUE_FULL: ${BOB} is offline with 3 messages waiting (the most kept per address)`,
      );
    });

    it('drops held frames past their time, making room for new ones', async () => {
      const { cluster } = await join();
      const brief = { perAddress: 1, ttlMs: 50 };
      await cluster.hold(BOB, 'old', brief);
      await new Promise((r) => setTimeout(r, 100));
      await cluster.hold(BOB, 'new', brief);
      expect((await cluster.release(BOB)).map((f) => Buffer.from(f).toString())).toEqual(['new']);
    });

    it('tells its member about an address it holds frames for', async () => {
      const { cluster, member } = await join();
      await cluster.hold(BOB, 'x', LIMITS);
      await expect.poll(() => member.heldFor).toEqual([BOB]);
    });

    it("delivers to its own node's sessions, and to no node that does not exist", async () => {
      const { cluster, member } = await join();
      expect(await cluster.deliver(cluster.node, 's1', 'hello')).toBe(true);
      expect(member.delivered).toEqual([{ session: 's1', frame: 'hello' }]);
      member.accept = false;
      expect(await cluster.deliver(cluster.node, 's2', 'gone')).toBe(false);
      expect(await cluster.deliver('no-such-node', 's1', 'lost')).toBe(false);
    });

    it('keeps a group: its creator owns it, the roster decides, the size bounds, it ends with its last member', async () => {
      const { cluster } = await join();
      const g = cluster.groups;
      const rules = { membersOnly: true, maxSize: 2 };
      const [ann, bob, eve] = ['user://b.example/ann', BOB, 'user://b.example/eve'];
      const at = (session: string, user: string) => ({ session, node: cluster.node, user });
      expect(await g.join(GROUP, at('s1', ann), rules)).toEqual({ result: 'joined', size: 1 });
      expect((await g.join(GROUP, at('s2', bob), rules)).result).toBe('refused');
      expect(await g.change(GROUP, bob, [bob], [], 2)).toEqual({ ok: false, reason: 'not-owner' });
      expect(await g.change(GROUP, ann, [], [ann], 2)).toEqual({ ok: false, reason: 'owner-removed' });
      expect(await g.change(GROUP, ann, [bob, eve, 'user://b.example/x'], [], 2)).toEqual({
        ok: false,
        reason: 'full',
        listed: 3,
      });
      expect(await g.change(GROUP, ann, [bob, eve], [], 2)).toEqual({ ok: true });
      expect(await g.join(GROUP, at('s2', bob), rules)).toEqual({ result: 'joined', size: 2 });
      expect(await g.join(GROUP, at('s3', eve), rules)).toEqual({ result: 'full', size: 2 });
      expect(await g.send(GROUP, 's1', 'hi all')).toBe(true);
      expect(await g.send(GROUP, 's3', 'let me in')).toBe(false);
      expect(await g.change(GROUP, ann, [], [bob], 2)).toEqual({ ok: true });
      expect(await g.send(GROUP, 's2', 'still here?')).toBe(false);
      await g.leave(GROUP, 's1');
      // Ended: the next subscriber makes it anew and owns it.
      expect(await g.join(GROUP, at('s2', bob), rules)).toEqual({ result: 'joined', size: 1 });
      expect(await g.change(GROUP, bob, [eve], [], 2)).toEqual({ ok: true });
    });

    it('lists itself among the nodes alive', async () => {
      const { cluster } = await join();
      expect(await cluster.nodes()).toContain(cluster.node);
    });

    it('keeps the policy rules shared and tells its own member', async () => {
      const { cluster, member } = await join();
      expect(await cluster.sharedPolicy()).toBeUndefined();
      await cluster.sharePolicy('{"rules":[]}');
      expect(await cluster.sharedPolicy()).toBe('{"rules":[]}');
      await expect.poll(() => member.policies).toEqual(['{"rules":[]}']);
    });
  });
}

/** What a Cluster backend of several nodes does between them. */
export function clusterNodesContract(subject: ClusterSubject): void {
  describe(`Cluster contract, between nodes: ${subject.name}`, () => {
    const made: Cluster[] = [];
    let n = 0;
    const pair = async () => {
      const namespace = `pair${++n}-${Date.now()}`;
      const nodes = [];
      for (let i = 0; i < 2; i++) {
        const cluster = await subject.create(namespace);
        made.push(cluster);
        const member = new RecordingMember();
        await cluster.join(member);
        nodes.push({ cluster, member });
      }
      return nodes as [(typeof nodes)[0], (typeof nodes)[0]];
    };
    afterEach(async () => {
      await Promise.all(made.splice(0).map((c) => c.close?.()));
    });

    it('tells every node the policy rules shared, in order, and keeps the last for a node that starts later', async () => {
      const [one, two] = await pair();
      const shared = ['{"default":"deny"}', '{"default":"allow"}'];
      for (const rules of shared) await one.cluster.sharePolicy(rules);
      await expect.poll(() => two.member.policies).toEqual(shared);
      expect(one.member.policies).toEqual(shared);
      expect(await two.cluster.sharedPolicy()).toBe(shared[1]);
    });

    it('delivers frames to sessions of another node in order, each confirmed once safe there', async () => {
      const [one, two] = await pair();
      const frames = Array.from({ length: 200 }, (_, i) => `{"i":${i},"text":"line\\n${i}"}`);
      const results = await Promise.all(frames.map((f) => one.cluster.deliver(two.cluster.node, 'n2.1', f)));
      expect(results.every(Boolean)).toBe(true);
      expect(two.member.delivered.map((d) => d.frame)).toEqual(frames);
      expect(one.member.delivered).toEqual([]);
    });

    it('delivers both ways at once, each frame confirmed and in order (confirmations riding with deliveries)', async () => {
      const [one, two] = await pair();
      const frames = Array.from({ length: 100 }, (_, i) => `${i}`);
      const sent = frames.flatMap((f) => [
        one.cluster.deliver(two.cluster.node, 'n2.1', `to two ${f}`),
        two.cluster.deliver(one.cluster.node, 'n1.1', `to one ${f}`),
      ]);
      expect((await Promise.all(sent)).every(Boolean)).toBe(true);
      expect(two.member.delivered.map((d) => d.frame)).toEqual(frames.map((f) => `to two ${f}`));
      expect(one.member.delivered.map((d) => d.frame)).toEqual(frames.map((f) => `to one ${f}`));
    });

    it("confirms a frame only once the other node's member says it is safe there, each as it says", async () => {
      const [one, two] = await pair();
      two.member.confirm = false;
      const settled: boolean[] = [];
      const sent = ['a', 'b', 'c'].map((f) =>
        one.cluster.deliver(two.cluster.node, 'n2.1', f).then((ok) => void settled.push(ok)),
      );
      await expect.poll(() => two.member.unsafe.length).toBe(3);
      const [a, b, c] = two.member.unsafe;
      a!(true);
      await sent[0];
      expect(settled).toEqual([true]);
      b!(false);
      c!(true);
      await Promise.all(sent);
      expect(settled).toEqual([true, false, true]);
    });

    it('tells the other node which address a frame must come after the held frames of', async () => {
      const [one, two] = await pair();
      expect(await one.cluster.deliver(two.cluster.node, 'n2.1', 'after', BOB)).toBe(true);
      expect(await one.cluster.deliver(two.cluster.node, 'n2.1', 'plain')).toBe(true);
      expect(two.member.delivered).toEqual([
        { session: 'n2.1', frame: 'after', heldFirst: BOB },
        { session: 'n2.1', frame: 'plain' },
      ]);
    });

    it('reports a frame as not delivered when its node leaves before saying it is safe', async () => {
      const [one, two] = await pair();
      two.member.confirm = false;
      const sent = one.cluster.deliver(two.cluster.node, 'n2.1', 'x');
      await expect.poll(() => two.member.unsafe.length).toBe(1);
      await two.cluster.close?.();
      two.member.unsafe[0]!(true);
      expect(await sent).toBe(false);
    });

    it('reports a frame the other node has no session for as not delivered', async () => {
      const [one, two] = await pair();
      two.member.accept = false;
      expect(await one.cluster.deliver(two.cluster.node, 'gone', 'x')).toBe(false);
    });

    it('reports nothing delivered to a node that left, and no longer lists it', async () => {
      const [one, two] = await pair();
      const gone = two.cluster.node;
      expect(await one.cluster.nodes()).toContain(gone);
      await two.cluster.close?.();
      expect(await one.cluster.deliver(gone, 'n2.1', 'x')).toBe(false);
      expect(await one.cluster.nodes()).not.toContain(gone);
    });

    it("gives a group's messages to its members on both nodes, once each and in order, until one leaves", async () => {
      const [one, two] = await pair();
      const rules = { membersOnly: false, maxSize: 10 };
      const on = (c: typeof one, session: string, user: string) => ({ session, node: c.cluster.node, user });
      await one.cluster.groups.join(GROUP, on(one, 'n1.1', 'user://b.example/ann'), rules);
      await two.cluster.groups.join(GROUP, on(two, 'n2.1', BOB), rules);
      await two.cluster.groups.join(GROUP, on(two, 'n2.2', 'user://b.example/cy'), rules);
      await one.cluster.groups.join(GROUP, on(one, 'n1.2', 'user://b.example/di'), rules);
      const texts = Array.from({ length: 50 }, (_, i) => `m${i}`);
      const sent = await Promise.all(texts.map((t) => one.cluster.groups.send(GROUP, 'n1.1', t)));
      expect(sent.every(Boolean)).toBe(true);
      const of = (c: typeof one, session: string) =>
        c.member.delivered.filter((d) => d.session === session).map((d) => d.frame);
      await expect.poll(() => of(two, 'n2.2').length).toBe(texts.length);
      await expect.poll(() => of(one, 'n1.2').length).toBe(texts.length);
      expect([of(two, 'n2.1'), of(two, 'n2.2'), of(one, 'n1.2'), of(one, 'n1.1')]).toEqual([
        texts,
        texts,
        texts,
        [],
      ]);
      await two.cluster.groups.leave(GROUP, 'n2.1');
      expect(await two.cluster.groups.send(GROUP, 'n2.1', 'gone')).toBe(false);
      expect(await two.cluster.groups.send(GROUP, 'n2.2', 'last')).toBe(true);
      await expect.poll(() => of(one, 'n1.1').at(-1)).toBe('last');
      expect(of(two, 'n2.1')).toEqual(texts);
    });

    it('announces frames one node holds to the others, which can release them', async () => {
      const [one, two] = await pair();
      await one.cluster.hold(BOB, 'for bob', LIMITS);
      await expect.poll(() => two.member.heldFor).toEqual([BOB]);
      expect((await two.cluster.release(BOB)).map((f) => Buffer.from(f).toString())).toEqual(['for bob']);
    });
  });
}
