import type { Message, ResponseMessage } from './generated/types.js';

/**
 * Responses: the codes, their reason phrases and the constructor. Apart from message.ts, which
 * checks messages against the generated validators, so that a stub building a response does
 * not carry them (300 KB): stubs import this file, never message.ts's values.
 */

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

/**
 * Builds the response to `req`: same `id`, `from` and `to` swapped; `description` defaults to
 * the code's reason phrase.
 */
export function response(req: Message, code: number, description?: string, value?: unknown): ResponseMessage {
  const body: ResponseMessage['body'] = { code, description: description ?? reasonOf(code) };
  if (value !== undefined) body.value = value;
  return { id: req.id, type: 'response', from: req.to, to: req.from, body };
}
