import { afterEach, describe, expect, it } from 'vitest';
import type { Cluster } from '../../server/services/service.js';
import { RecordingMember } from '../support/cluster-member.js';

/** A Cluster backend under test: the same `namespace` names the same cluster (nodes that see each other). */
export interface ClusterSubject {
  readonly name: string;
  create(namespace: string): Promise<Cluster>;
}

const BOB = 'user://b.example/bob';
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

    it('lists itself among the nodes alive', async () => {
      const { cluster } = await join();
      expect(await cluster.nodes()).toContain(cluster.node);
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

    it('delivers frames to sessions of another node in order, confirmed once written there', async () => {
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

    it('announces frames one node holds to the others, which can release them', async () => {
      const [one, two] = await pair();
      await one.cluster.hold(BOB, 'for bob', LIMITS);
      await expect.poll(() => two.member.heldFor).toEqual([BOB]);
      expect((await two.cluster.release(BOB)).map((f) => Buffer.from(f).toString())).toEqual(['for bob']);
    });
  });
}
