import type { Message } from 'protofly/stub';
import { isMessageId, textOf } from './canonical.js';
import type { Member } from './member.js';

/**
 * What an instance hands the instance of another version of this stub that takes its
 * conversation over in a live swap (`ctx.snapshot`): its chats not answered yet, which go again
 * from there (the far side drops a copy by id).
 */
export function snapshotOf(member: Member): unknown {
  return {
    pending: [...member.chats()].map((m) => ({
      id: m.id,
      from: m.from,
      to: m.to,
      text: textOf(m),
    })),
  };
}

/** The chats another version of this stub had not had answered (a live swap), if its snapshot is one of ours. */
export function restore(snapshot: unknown): Message[] {
  const pending = (snapshot as { pending?: unknown } | undefined)?.pending;
  if (!Array.isArray(pending)) return [];
  return pending.flatMap((p: unknown) => {
    const { id, from, to, text } = (p ?? {}) as Record<string, unknown>;
    if (
      typeof id !== 'string' ||
      !isMessageId(id) ||
      typeof from !== 'string' ||
      typeof to !== 'string' ||
      typeof text !== 'string'
    )
      return [];
    return [{ id, type: 'create', from, to, body: { value: { kind: 'chat', text } } } satisfies Message];
  });
}
