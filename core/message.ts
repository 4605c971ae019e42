import type {
  CreateBody,
  ExecuteBody,
  ForwardBody,
  Message,
  ResponseMessage,
  TargetBody,
  UpdateBody,
} from './generated/types.js';
import { validateMessage } from './generated/validators.js';
import { assertValid } from './validate.js';

/**
 * Messages: the reTHINK model `{ id, type, from, to, body }`, kept compatible.
 * Constructors for requests and responses, the response codes (response.ts, which stubs
 * import: this file's checks carry the generated validators), and the check.
 */

export type { Message, ResponseMessage } from './generated/types.js';
export { Code, isProvisional, reasonOf, response } from './response.js';

/** A message type. */
export type MessageType = Message['type'];
/** Any message but a response. */
export type RequestMessage = Exclude<Message, ResponseMessage>;
/** The body each request type carries. */
export interface BodyOf {
  create: CreateBody;
  read: TargetBody;
  update: UpdateBody;
  delete: TargetBody;
  subscribe: TargetBody;
  unsubscribe: TargetBody;
  forward: ForwardBody;
  execute: ExecuteBody;
}

/** Characters of an id: 22 of base64url's alphabet, 6 random bits each (132 bits). */
const ID_CHARS = 22;
const BASE64URL = Uint8Array.from('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_', (c) =>
  c.charCodeAt(0),
);
/** Id characters of 1024 ids, drawn in one call to the random source (under its 64 KiB bound). */
const idChars = new Uint8Array(ID_CHARS * 1024);
let idCharsAt = idChars.length;
/** Ids are decoded 16 at a time: an id is a slice of that string and keeps it alive, so it stays short. */
const DECODED = ID_CHARS * 16;
const latin1 = new TextDecoder('latin1');
let ids = '';
let idAt = 0;

/**
 * A fresh message id: 132 bits from the platform's cryptographic random source, so that nobody
 * can guess an id from the ones before it (a response is matched to its request by id).
 * Drawn and encoded in batches: about a hundred nanoseconds an id.
 */
export function nextId(): string {
  if (idAt === ids.length) {
    if (idCharsAt === idChars.length) {
      crypto.getRandomValues(idChars);
      // 64 divides 256: the low 6 bits of a uniform byte are uniform.
      for (let i = 0; i < idChars.length; i++) idChars[i] = BASE64URL[idChars[i]! & 63]!;
      idCharsAt = 0;
    }
    ids = latin1.decode(idChars.subarray(idCharsAt, idCharsAt + DECODED));
    idCharsAt += DECODED;
    idAt = 0;
  }
  idAt += ID_CHARS;
  return ids.slice(idAt - ID_CHARS, idAt);
}

/** Builds a request message. */
export function request<T extends keyof BodyOf>(
  type: T,
  from: string,
  to: string,
  body: BodyOf[T],
  id: string = nextId(),
): Extract<RequestMessage, { type: T }> {
  return { id, type, from, to, body } as Extract<RequestMessage, { type: T }>;
}

/**
 * Checks a message against `schemas/message.schema.json`.
 *
 * @throws ProtoflyError `PF_ERR_SCHEMA` naming the offending field.
 */
export function assertMessage(data: unknown): asserts data is Message {
  assertValid(validateMessage, data, 'message');
}
