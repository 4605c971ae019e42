import { afterEach, describe, expect, it } from 'vitest';
import { request } from '../../core/message.js';
import { JsonWsClient } from '../../test/support/json-ws-client.js';
import { type TwoDomains, twoDomains } from '../../test/support/node-fixture.js';
import { LocalCluster } from '../services/local-cluster.js';
import { MemoryLocation } from '../services/memory-location.js';
import type { ClusterMember, Frame } from '../services/service.js';
import { msgFrame } from './frames.js';

const ALICE = 'user://a.example/alice';
const BOB = 'user://b.example/bob';
const chat = (text: string) => request('create', ALICE, BOB, { value: { kind: 'chat', text } });
const texts = (c: JsonWsClient) =>
  c.messages().map((m) => (m.body as { value: { text: string } }).value.text);

/**
 * The node's one cluster, whose member (what other nodes reach it through) a test calls as
 * another node would; `quiet` keeps notices of held frames from it (they come late, or by
 * another way than a delivery).
 */
class OtherNodes extends LocalCluster {
  member!: ClusterMember;
  quiet = false;

  override join(member: ClusterMember): Promise<void> {
    this.member = member;
    return super.join({ ...member, held: (address) => this.quiet || member.held(address) });
  }
}

let domains: TwoDomains;
afterEach(() => domains?.close());

/** A node on `cluster`, Bob on it with receipts on, and his session's id. */
async function bobOn(cluster: OtherNodes) {
  const location = new MemoryLocation();
  domains = await twoDomains({ cluster, location });
  const bob = await JsonWsClient.ready(domains.node.url, await domains.token(BOB), undefined, true);
  const [binding] = await location.lookup(BOB);
  return { bob, session: binding!.session };
}

/**
 * {@link bobOn}, with `frame` held for `address` by another node whose notice never comes here
 * (it comes late, or by another way than the sender's next delivery).
 */
async function bobWithHeld(address: string, frame: Frame) {
  const cluster = new OtherNodes();
  const on = await bobOn(cluster);
  cluster.quiet = true;
  await cluster.hold(address, frame, { perAddress: 10, ttlMs: 60_000 });
  return { cluster, ...on };
}

describe('messaging node: frames from other nodes', () => {
  it('confirms a frame to the node that sent it once the client said it took it, not once it was written', async () => {
    const cluster = new OtherNodes();
    const { bob, session } = await bobOn(cluster);
    const told: boolean[] = [];
    const m = chat('one');
    expect(cluster.member.deliver(session, msgFrame(m), (safe) => told.push(safe))).toBe(true);
    await bob.take((f) => f.t === 'msg' && f.m.id === m.id);
    // Written and read, but only Bob's receipt makes it safe: were this node to die now, it would be lost.
    expect(told).toEqual([]);
    bob.send({ t: 'received', n: 1 });
    await expect.poll(() => told).toEqual([true]);
  });

  it('holds again what the client had not taken when its connection ended, then confirms it', async () => {
    const cluster = new OtherNodes();
    const { bob, session } = await bobOn(cluster);
    const told: boolean[] = [];
    const m = chat('one');
    cluster.member.deliver(session, msgFrame(m), (safe) => told.push(safe));
    await bob.take((f) => f.t === 'msg' && f.m.id === m.id);
    bob.ws.terminate();
    await expect.poll(() => told).toEqual([true]);
    const held = await cluster.release(BOB);
    expect(held.map((f) => JSON.parse(Buffer.from(f).toString()).m.id)).toEqual([m.id]);
  });

  it('gives the session what is held for the address a frame names before that frame', async () => {
    // The sender's later message must not overtake the held one.
    const [first, second] = [chat('first'), chat('second')];
    const { cluster, bob, session } = await bobWithHeld(BOB, msgFrame(first));
    expect(cluster.member.deliver(session, msgFrame(second), () => {}, BOB)).toBe(true);
    await bob.take((f) => f.t === 'msg' && f.m.id === second.id);
    expect(texts(bob)).toEqual(['first', 'second']);
  });

  it('cuts the session when what is held cannot be taken out, and its next one gets it all in order', async () => {
    const [first, second] = [chat('first'), chat('second')];
    const { cluster, bob, session } = await bobWithHeld(BOB, msgFrame(first));
    const release = cluster.release.bind(cluster);
    cluster.release = () => Promise.reject(new Error('CLUSTERDOWN The cluster is down'));
    const told: boolean[] = [];
    cluster.member.deliver(session, msgFrame(second), (safe) => told.push(safe), BOB);
    // Not given `second` before `first`: cut, and `second` held again behind `first`, then confirmed.
    expect((await bob.closed).code).toBe(1011);
    expect(texts(bob)).toEqual([]);
    await expect.poll(() => told).toEqual([true]);
    cluster.release = release;
    const back = await JsonWsClient.ready(domains.node.url, await domains.token(BOB), undefined, true);
    await back.take((f) => f.t === 'msg' && f.m.id === second.id);
    expect(texts(back)).toEqual(['first', 'second']);
  });

  it('takes nothing held for an address the session does not hold', async () => {
    const carol = 'user://b.example/carol';
    const { cluster, bob, session } = await bobWithHeld(carol, msgFrame(chat('for carol')));
    const m = chat('for bob');
    cluster.member.deliver(session, msgFrame(m), () => {}, carol);
    await bob.take((f) => f.t === 'msg' && f.m.id === m.id);
    expect(texts(bob)).toEqual(['for bob']);
    expect(await cluster.held()).toBe(1);
  });

  it('asks a session on another node to take the held ones first once a message to it was held, until it did', async () => {
    // Bob is on another node, which does not confirm Alice's first message (it is held) and confirms the rest.
    const asked: (string | undefined)[] = [];
    const answers = [false, true, true];
    class ToOtherNode extends LocalCluster {
      override async deliver(_node: string, _session: string, _frame: Frame, heldFirst?: string) {
        asked.push(heldFirst);
        return answers.shift() ?? true;
      }
    }
    const location = new MemoryLocation();
    domains = await twoDomains({ cluster: new ToOtherNode(), location });
    const now = Date.now();
    await location.register({
      address: BOB,
      owner: BOB,
      node: 'other',
      session: 'other.1',
      since: now,
      expires: now + 60_000,
    });
    const alice = await JsonWsClient.ready(domains.node.url, await domains.token(ALICE));
    const sent = ['one', 'two', 'three'].map(chat);
    for (const m of sent) {
      alice.msg(m);
      await alice.take((f) => f.t === 'ack' && f.ids.includes(m.id));
    }
    expect(asked).toEqual([undefined, BOB, undefined]);
  });
});
