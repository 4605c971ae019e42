import type { Conversation } from '../runtime/conversation.js';
import type { Runtime } from '../runtime/runtime.js';

/**
 * A conversation load whose delivery can be checked: numbered chats from one user to another,
 * with what the sender had acknowledged (answered 200: written to the recipient's socket or
 * held for it) and what the recipient got. `protofly demo --cluster` and the tests over network
 * hosts run it while hosts die, links are cut and Redis masters fail over.
 */

/** One direction of a chat: its sender's conversation and what its recipient received. */
export interface ChatLine {
  readonly from: string;
  readonly to: string;
  readonly out: Conversation;
  /** The texts the recipient received, in arrival order, from the line's opening on. */
  readonly received: string[];
}

/** What a stream of chats got: answered 200, or refused (not sent: the sender may retry). */
export interface Sent {
  readonly acknowledged: string[];
  readonly failed: string[];
}

/** How a line's delivery went wrong, each list empty when it did not. */
export interface Verdict {
  /** Acknowledged to the sender, never received. */
  readonly lost: string[];
  /** Received more than once. */
  readonly twice: string[];
  /** Received before a chat sent earlier. */
  readonly outOfOrder: string[];
}

/**
 * Opens `from` → `to` (`toAddress`): a first chat, `hello`, delivered and acknowledged; the
 * recipient's texts are collected from the next one on.
 */
export async function openChat(
  from: Runtime,
  to: Runtime,
  names: { readonly from: string; readonly to: string },
  toAddress: string,
): Promise<ChatLine> {
  const incoming = new Promise<Conversation>((resolve) => {
    const off = to.on('conversation', (c) => {
      off();
      resolve(c);
    });
  });
  const out = await from.conversation(toAddress);
  await out.send('hello');
  const inc = await incoming;
  // The first message is held for the conversation's first reader.
  await inc[Symbol.asyncIterator]().next();
  const received: string[] = [];
  inc.on('message', (m) => received.push((m.body as { text: string }).text));
  return { ...names, out, received };
}

/** Users of a domain on several hosts: each one's runtime and the index of the host it is on. */
export type Placed = ReadonlyMap<string, { readonly runtime: Runtime; readonly host: number }>;

/**
 * Registers `runtime` and resolves with the index of the host it landed on: the one whose open
 * connections (`connections`, one count per host) rose, polled for at most `ms`.
 *
 * @throws Error when no host's count rose within `ms`.
 */
export async function registerPlaced(
  runtime: Runtime,
  connections: () => Promise<number[]>,
  ms: number,
): Promise<number> {
  const before = await connections();
  await runtime.register();
  const deadline = performance.now() + ms;
  for (;;) {
    const after = await connections();
    const at = after.findIndex((n, i) => n > before[i]!);
    if (at >= 0) return at;
    if (performance.now() > deadline) throw new Error(`no host counted the registration within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * Opens a chat from a user of each of `hosts` hosts to a user of the next (the last's to the
 * first's): every host sends and receives. `address` names a user.
 *
 * @throws Error when a host has no user.
 */
export async function chatsAround(
  placed: Placed,
  hosts: number,
  address: (name: string) => string,
): Promise<ChatLine[]> {
  const on = (h: number) => [...placed].filter(([, p]) => p.host === h).map(([name]) => name);
  const lines: ChatLine[] = [];
  for (let h = 0; h < hosts; h++) {
    const [from, to] = [on(h)[0], on((h + 1) % hosts).at(-1)];
    if (!from || !to) throw new Error(`host ${h + 1} or the next has no user`);
    lines.push(await openChat(placed.get(from)!.runtime, placed.get(to)!.runtime, { from, to }, address(to)));
  }
  return lines;
}

/** When to act in a {@link stream}, and where its numbers start. */
export interface StreamOptions {
  /** The number of the first chat (default 0): a second stream on a line goes on from the first's. */
  readonly first?: number;
  /** Called (and awaited) once this many chats have been sent. */
  readonly at?: number;
  readonly during?: () => unknown;
}

/**
 * Milliseconds a stream waits for its chats' answers once all were sent: a bound for a hang,
 * not a measure (a fault's recovery takes seconds); past it the stream fails naming the chats
 * never answered, rather than hanging whoever waits for it.
 */
const ANSWERS_MS = 60_000;

/**
 * Sends `n` chats `m<first>`, `m<first+1>`… on `line`, a few at a time, calling `during` once
 * `at` have been sent; resolves when every chat was answered.
 *
 * @throws Error naming the chats not answered (acknowledged or failed) within ANSWERS_MS
 */
export async function stream(line: ChatLine, n: number, options: StreamOptions = {}): Promise<Sent> {
  const { first = 0, at, during } = options;
  const acknowledged: string[] = [];
  const failed: string[] = [];
  const pending = new Set<string>();
  const sends: Promise<void>[] = [];
  for (let i = 0; i < n; i++) {
    const text = `m${first + i}`;
    pending.add(text);
    sends.push(
      line.out
        .send(text)
        .then(
          () => void acknowledged.push(text),
          () => void failed.push(text),
        )
        .finally(() => pending.delete(text)),
    );
    if (i === at) await during?.();
    // A turn of the event loop now and then: a load, not one burst.
    if (i % 20 === 0) await new Promise((resolve) => setTimeout(resolve, 5));
  }
  let timer: ReturnType<typeof setTimeout> | undefined;
  const bound = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const arrived = [...pending].filter((t) => line.received.includes(t));
      reject(
        new Error(
          `${line.from} → ${line.to}: chats never answered within ${ANSWERS_MS} ms: ${[...pending].join(' ')}, of which ${line.to} received ${arrived.join(' ') || 'none'} (${acknowledged.length} acknowledged, ${failed.length} failed)`,
        ),
      );
    }, ANSWERS_MS);
  });
  await Promise.race([Promise.all(sends), bound]).finally(() => clearTimeout(timer));
  return { acknowledged, failed };
}

/** Checks `received` against what was acknowledged: nothing lost, nothing twice, the sender's order. */
export function verdict(received: readonly string[], sent: Sent): Verdict {
  const counts = new Map<string, number>();
  for (const t of received) counts.set(t, (counts.get(t) ?? 0) + 1);
  const order = (t: string) => Number(t.slice(1));
  let highest = -1;
  const outOfOrder: string[] = [];
  for (const t of received) {
    if (order(t) < highest) outOfOrder.push(t);
    highest = Math.max(highest, order(t));
  }
  return {
    lost: sent.acknowledged.filter((t) => !counts.has(t)),
    twice: [...counts].filter(([, n]) => n > 1).map(([t]) => t),
    outOfOrder,
  };
}
