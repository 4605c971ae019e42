import type { ConversationBody, Message } from 'protofly/stub';
import type { PresenceStatus } from './stanzas.js';

/** What the stub reads of canonical messages (schemas/message.schema.json, conversation.schema.json). */

/** Whether `id` may be a canonical message's id (schemas/message.schema.json, messageId). */
export function isMessageId(id: string): boolean {
  if (id.length < 1 || id.length > 128) return false;
  for (let i = 0; i < id.length; i++) {
    const c = id.charCodeAt(i);
    if (c < 0x21 || c > 0x7e) return false;
  }
  return true;
}

/** The canonical presence body. */
export type Presence = { readonly kind: 'presence'; readonly status: PresenceStatus; readonly note?: string };

/** The presence an `update` carries; undefined for anything else. */
export function presenceOf(msg: Message): Presence | undefined {
  const body = msg.type === 'update' ? (msg.body.value as ConversationBody) : undefined;
  return body?.kind === 'presence' ? (body as Presence) : undefined;
}

/** The call body (an offer, or an in-call update) a request carries; undefined for anything else. */
export function callOf(msg: Message): ConversationBody | undefined {
  if (msg.type !== 'create' && msg.type !== 'update') return undefined;
  const body = msg.body.value as ConversationBody | undefined;
  if (!body || body.kind === 'chat' || body.kind === 'presence') return undefined;
  return msg.type === 'create' ? (body.kind === 'offer' ? body : undefined) : body;
}

/** The text of a chat request; undefined for anything else. */
export function textOf(msg: Message): string | undefined {
  const body = msg.type === 'create' ? (msg.body.value as ConversationBody) : undefined;
  return body?.kind === 'chat' && typeof body.text === 'string' ? body.text : undefined;
}
