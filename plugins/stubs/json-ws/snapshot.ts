import type { Message } from '../../../core/message.js';

/**
 * What a json-ws conversation hands the instance of another version that takes it over in a
 * live swap (`ctx.snapshot`), and how that instance reads it. Versioned: a version that does
 * not know a snapshot's format starts afresh.
 */
export interface JsonWsSnapshot {
  readonly v: 1;
  /** Addresses the conversation sent to: messages from them come to it. */
  readonly peers: readonly string[];
  /** Hyperty addresses to claim again on the new connection. */
  readonly hyperties: readonly string[];
  /**
   * The conversation's messages the node has not acknowledged, sent or not, and its requests
   * the node acknowledged whose far side has not answered yet, in order. The new
   * instance sends them again before anything newer; the far side drops those that had arrived
   * (its de-duplication), so none is lost, none doubled, and the order holds.
   */
  readonly outbox: readonly Message[];
}

/** The snapshot in `value` if this version reads its format, else undefined. */
export function readSnapshot(value: unknown): JsonWsSnapshot | undefined {
  const s = value as Partial<JsonWsSnapshot> | null | undefined;
  if (s?.v !== 1 || !strings(s.peers) || !strings(s.hyperties) || !Array.isArray(s.outbox)) return undefined;
  // The host checked it is JSON; what it holds is checked again where it goes (the node validates every frame).
  return s.outbox.every(isMessageShaped) ? (s as JsonWsSnapshot) : undefined;
}

function strings(value: unknown): value is readonly string[] {
  return Array.isArray(value) && value.every((x) => typeof x === 'string');
}

function isMessageShaped(m: unknown): m is Message {
  const x = m as Partial<Message> | null;
  return (
    typeof x === 'object' &&
    x !== null &&
    typeof x.id === 'string' &&
    typeof x.type === 'string' &&
    typeof x.from === 'string' &&
    typeof x.to === 'string' &&
    typeof x.body === 'object'
  );
}
