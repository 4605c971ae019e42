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
 * Constructors for requests and responses, and the response codes.
 */

export type { Message, ResponseMessage } from './generated/types.js';

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

/** Response codes, HTTP-like, with the meanings protofly gives them. */
export const Code = {
  TRYING: 100,
  OK: 200,
  ACCEPTED: 202,
  BAD_REQUEST: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  TIMEOUT: 408,
  TOO_LARGE: 413,
  TOO_MANY: 429,
  INTERNAL: 500,
  UNAVAILABLE: 503,
} as const;

const REASONS: Readonly<Record<number, string>> = {
  100: 'Trying',
  200: 'OK',
  202: 'Accepted',
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  408: 'Request Timeout',
  413: 'Content Too Large',
  429: 'Too Many Requests',
  500: 'Internal Error',
  503: 'Service Unavailable',
};

/** The standard reason phrase of a code, or a generic one for its class. */
export function reasonOf(code: number): string {
  return REASONS[code] ?? REASONS[Math.floor(code / 100) * 100] ?? `Code ${code}`;
}

/** A 1xx code: the request is in progress; more responses follow. */
export function isProvisional(code: number): boolean {
  return code < 200;
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

/** Builds the response to `req`: same `id`, `from` and `to` swapped. */
export function response(req: Message, code: number, description?: string, value?: unknown): ResponseMessage {
  const body: ResponseMessage['body'] = { code, description: description ?? reasonOf(code) };
  if (value !== undefined) body.value = value;
  return { id: req.id, type: 'response', from: req.to, to: req.from, body };
}

/**
 * Checks a message against `schemas/message.schema.json`.
 *
 * @throws ProtoflyError `PF_ERR_SCHEMA` naming the offending field.
 */
export function assertMessage(data: unknown): asserts data is Message {
  assertValid(validateMessage, data, 'message');
}
