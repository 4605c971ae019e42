import type { RawData } from 'ws';
import { ProtoflyError } from '../../core/errors.js';
import type { AuthFrame, Message, MsgFrame, PingFrame, ReceivedFrame } from '../../core/generated/types.js';
import { validateJsonWsFrame } from '../../core/generated/validators.js';
import { schemaError } from '../../core/validate.js';

/**
 * The node's side of the json-ws frame protocol (schemas/json-ws-frame.schema.json): reading
 * what clients send, and writing what the node sends, each frame built once.
 */

/** The WebSocket subprotocol of json-ws. */
export const PROTOCOL = 'protofly.json-ws.v1';

/** The close code the node uses that is no error's (those are in core/errors.ts). */
export const CLOSE = {
  SERVICE_RESTART: 1012,
} as const;

/** The message id of a frame that failed, when it can be read, so the error can name it. */
const ID = /^[\x21-\x7e]{1,128}$/;

/**
 * Parses and checks a frame from a client: `auth`, `msg`, `received` or `ping`. Its nesting
 * is bounded before it is parsed: whatever is parsed is later serialised again, and
 * `JSON.stringify` recurses (a few thousand levels overflow the stack).
 *
 * @param maxDepth - most nested arrays and objects, the frame's own object counting as 1
 * @throws ProtoflyError `PF_ERR_FRAME` (binary, nested deeper than `maxDepth`, not JSON,
 *   wrong shape, a frame only the node sends) or `PF_ERR_SCHEMA` (a `msg` whose message is
 *   invalid); `detail.id` is the message id when one could be read.
 */
export function readClientFrame(
  data: RawData,
  isBinary: boolean,
  maxDepth: number,
): AuthFrame | MsgFrame | ReceivedFrame | PingFrame {
  if (isBinary || !Buffer.isBuffer(data)) throw frameError('binary frames are not json-ws; send text');
  // A frame of n bytes nests at most n deep: short ones need no scan.
  if (data.length > maxDepth) {
    const depth = depthOf(data);
    if (depth > maxDepth) {
      throw new ProtoflyError(
        'PF_ERR_FRAME',
        `JSON nested ${depth} deep, over the limit of ${maxDepth} (maxJsonDepth)`,
        { depth, limit: maxDepth },
      );
    }
  }
  let frame: unknown;
  try {
    frame = JSON.parse(data.toString());
  } catch {
    throw frameError(`not JSON: '${data.toString().slice(0, 40)}'`);
  }
  if (!validateJsonWsFrame(frame)) {
    const err = schemaError('frame', validateJsonWsFrame.errors ?? []);
    const pointer = String(err.detail.pointer);
    const id = idOf(frame);
    if (pointer.startsWith('/m/') || pointer === '/m') {
      throw new ProtoflyError('PF_ERR_SCHEMA', reason(err), { ...err.detail, id });
    }
    throw frameError(reason(err), id);
  }
  if (frame.t !== 'auth' && frame.t !== 'msg' && frame.t !== 'received' && frame.t !== 'ping') {
    throw frameError(`clients send 'auth', 'msg', 'received' and 'ping' frames, not '${frame.t}'`);
  }
  return frame;
}

/** A `msg` frame, encoded once and sent as is to every session it goes to. */
export function msgFrame(m: Message): Buffer {
  // Re-serialised rather than forwarded as received: the text then has exactly one value per
  // key, whatever parser the recipient uses (duplicate keys are a classic spoofing trick).
  return Buffer.from(`{"t":"msg","m":${JSON.stringify(m)}}`);
}

/** The answer to a `ping`. */
export const PONG = '{"t":"pong"}';

/** The `ack` frame for messages `ids`. */
export function ackFrame(ids: readonly string[]): string {
  return `{"t":"ack","ids":${JSON.stringify(ids)}}`;
}

/** The `err` frame for a refusal; with `id` when it refuses that message. */
export function errFrame(err: ProtoflyError, id?: string): string {
  return JSON.stringify({ t: 'err', code: err.code, message: reason(err).slice(0, 2048), id });
}

/** The `ready` frame: the verified address and the hyperty addresses granted. */
export function readyFrame(address: string, hyperties: readonly string[]): string {
  return JSON.stringify({ t: 'ready', address, hyperties });
}

/** A ProtoflyError's message without its `PF_ERR_...: ` prefix, which the frame carries apart. */
function reason(err: ProtoflyError): string {
  return err.message.slice(err.code.length + 2);
}

/**
 * The deepest nesting of arrays and objects in JSON text, in one pass over its bytes without
 * allocating: brackets inside strings do not count. Bytes are enough: in UTF-8, no byte of a
 * multi-byte character is ASCII. Wrong JSON gives some number; JSON.parse refuses it next.
 */
export function depthOf(text: Uint8Array): number {
  let depth = 0;
  let deepest = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === 0x22) i = closingQuote(text, i);
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > deepest) deepest = depth;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return deepest;
}

/**
 * Where the string opened at `open` ends (the text's length if it does not). Found with
 * indexOf, native and much faster than a loop over the bytes, which are mostly in strings; a
 * quote after an odd number of backslashes is escaped.
 */
function closingQuote(text: Uint8Array, open: number): number {
  let quote = open;
  for (;;) {
    quote = text.indexOf(0x22, quote + 1);
    if (quote < 0) return text.length;
    let slashes = 0;
    while (text[quote - 1 - slashes] === 0x5c) slashes++;
    if (slashes % 2 === 0) return quote;
  }
}

function frameError(message: string, id?: string): ProtoflyError {
  return new ProtoflyError('PF_ERR_FRAME', message, id === undefined ? {} : { id });
}

function idOf(frame: unknown): string | undefined {
  const id = (frame as { m?: { id?: unknown } } | null)?.m?.id;
  return typeof id === 'string' && ID.test(id) ? id : undefined;
}
