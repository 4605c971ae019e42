import type { AckFrame, ErrFrame, MsgFrame, PongFrame, ReadyFrame } from '../../../core/generated/types.js';

/**
 * The stub's reading of what a node sends: schemas/json-ws-frame.schema.json's node → client
 * frames, checked by hand. The schema's generated validators weigh 300 KB, the stub 20; this
 * is the same check in a few, and frames.test.ts holds it to the schema's validator on
 * generated frames, valid and not. One deliberate difference: a `forward` nests at most
 * {@link MAX_FORWARDS} messages deep (the schema has no bound; a hostile node must not be able
 * to exhaust the stack).
 */

/** A frame the node sends. */
export type ServerFrame = ReadyFrame | MsgFrame | AckFrame | ErrFrame | PongFrame;

/** A frame refused: why, and whether it was a `msg` frame (one the node numbers for receipts). */
export interface Refusal {
  readonly why: string;
  readonly msg: boolean;
}

/** Forwards inside forwards a message may hold. */
export const MAX_FORWARDS = 8;

// The patterns of schemas/common.schema.json and message.schema.json, with groups that capture
// nothing (twice as fast to test: two addresses in every message).
const DOMAIN = '[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*';
const SEGMENT = "(?:[A-Za-z0-9._~!$&'()*+,;=:@-]|%[0-9A-Fa-f]{2})";
const USER = new RegExp(`^user://${DOMAIN}/${SEGMENT}+$`, 'u');
const HYPERTY = new RegExp(`^hyperty://${DOMAIN}/${SEGMENT}+$`, 'u');
const ADDRESS = new RegExp(
  `^(?:(?:user|hyperty)://${DOMAIN}/${SEGMENT}+|runtime://${DOMAIN}/${SEGMENT}+(?:/${SEGMENT}+)*|domain://${DOMAIN}(?:/${SEGMENT}+)*)$`,
  'u',
);
const MESSAGE_ID = /^[\x21-\x7e]{1,128}$/u;
const METHOD = /^[A-Za-z_][A-Za-z0-9_.]{0,127}$/u;
const ERROR_CODE = /^PF_ERR_[A-Z_]+$/u;

/** The keys an object may hold: the first `required` of `names` it must. */
interface Shape {
  readonly names: readonly string[];
  readonly required: number;
}
const shape = (required: readonly string[], optional: readonly string[] = []): Shape => ({
  names: [...required, ...optional],
  required: required.length,
});

const READY = shape(['t', 'address', 'hyperties']);
const MSG = shape(['t', 'm']);
const ACK = shape(['t', 'ids']);
const ERR = shape(['t', 'code', 'message'], ['id']);
const PONG = shape(['t']);
const MESSAGE = shape(['id', 'type', 'from', 'to', 'body']);
const TARGET = shape([], ['resource', 'attribute']);
/** The body of each message type. */
const BODIES: Readonly<Record<string, Shape>> = {
  create: shape(['value'], ['resource']),
  read: TARGET,
  update: shape(['value'], ['resource', 'attribute']),
  delete: TARGET,
  subscribe: TARGET,
  unsubscribe: TARGET,
  response: shape(['code'], ['description', 'value']),
  forward: shape(['message']),
  execute: shape(['method'], ['params']),
};

/**
 * Parses and checks one text frame from the node.
 *
 * @returns the frame, or its refusal (nothing here throws, whatever `text` holds).
 */
export function readServerFrame(text: string): ServerFrame | Refusal {
  let frame: unknown;
  try {
    frame = JSON.parse(text);
  } catch {
    return { why: 'not JSON', msg: false };
  }
  const why = frameError(frame);
  if (why === undefined) return frame as ServerFrame;
  return { why, msg: isObject(frame) && frame.t === 'msg' };
}

/** Why `frame` is not a frame the node sends, or undefined when it is one. */
function frameError(frame: unknown): string | undefined {
  if (!isObject(frame)) return 'not an object';
  switch (frame.t) {
    case 'ready':
      if (!keys(frame, READY)) return 'ready: keys';
      if (!pattern(frame.address, USER, 512)) return 'ready: address';
      if (!list(frame.hyperties, 0, 64) || !frame.hyperties.every((h) => pattern(h, HYPERTY, 512))) {
        return 'ready: hyperties';
      }
      return undefined;
    case 'msg': {
      if (!keys(frame, MSG)) return 'msg: keys';
      const why = messageError(frame.m, 0);
      return why === undefined ? undefined : `msg: ${why}`;
    }
    case 'ack':
      if (!keys(frame, ACK)) return 'ack: keys';
      if (!list(frame.ids, 1, Number.POSITIVE_INFINITY) || !frame.ids.every(isMessageId)) return 'ack: ids';
      return undefined;
    case 'err':
      if (!keys(frame, ERR)) return 'err: keys';
      if (!pattern(frame.code, ERROR_CODE, 64)) return 'err: code';
      if (!isText(frame.message, 0, 2048)) return 'err: message';
      if (frame.id !== undefined && !isMessageId(frame.id)) return 'err: id';
      return undefined;
    case 'pong':
      return keys(frame, PONG) ? undefined : 'pong: keys';
    default:
      return typeof frame.t === 'string'
        ? `t: '${frame.t.slice(0, 16)}' is not a node's frame`
        : 't: missing';
  }
}

/** Why `m` is not a canonical message, or undefined when it is one. */
function messageError(m: unknown, depth: number): string | undefined {
  if (!isObject(m)) return 'not an object';
  const body = typeof m.type === 'string' && Object.hasOwn(BODIES, m.type) ? BODIES[m.type]! : undefined;
  if (!body) return 'type';
  if (!keys(m, MESSAGE)) return 'keys';
  if (!isMessageId(m.id)) return 'id';
  if (!pattern(m.from, ADDRESS, 512)) return 'from';
  if (!pattern(m.to, ADDRESS, 512)) return 'to';
  const b = m.body;
  if (!isObject(b) || !keys(b, body)) return 'body';
  if (b.resource !== undefined && !isText(b.resource, 1, 512)) return 'body.resource';
  if (b.attribute !== undefined && !isText(b.attribute, 1, 512)) return 'body.attribute';
  switch (m.type) {
    case 'response':
      if (!Number.isInteger(b.code) || (b.code as number) < 100 || (b.code as number) > 699)
        return 'body.code';
      if (b.description !== undefined && !isText(b.description, 0, 1024)) return 'body.description';
      return undefined;
    case 'execute':
      if (!pattern(b.method, METHOD, Number.POSITIVE_INFINITY)) return 'body.method';
      if (b.params !== undefined && (typeof b.params !== 'object' || b.params === null)) return 'body.params';
      return undefined;
    case 'forward': {
      if (depth >= MAX_FORWARDS) return `forwards nested over ${MAX_FORWARDS} deep`;
      const why = messageError(b.message, depth + 1);
      return why === undefined ? undefined : `body.message: ${why}`;
    }
    default:
      return undefined;
  }
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** `o` has only keys of `s`, and every required one. */
function keys(o: Record<string, unknown>, s: Shape): boolean {
  let required = 0;
  for (const k of Object.keys(o)) {
    const i = s.names.indexOf(k);
    if (i < 0) return false;
    if (i < s.required) required++;
  }
  return required === s.required;
}

function list(x: unknown, min: number, max: number): x is unknown[] {
  return Array.isArray(x) && x.length >= min && x.length <= max;
}

function isMessageId(x: unknown): boolean {
  return typeof x === 'string' && MESSAGE_ID.test(x);
}

/** A string of `min` to `max` characters, counted as JSON Schema does (code points). */
function isText(x: unknown, min: number, max: number): x is string {
  // A code point is one or two UTF-16 units: count them only when that can matter.
  if (typeof x !== 'string' || x.length > max * 2) return false;
  const n = x.length > max || x.length < min * 2 ? codePoints(x) : x.length;
  return n >= min && n <= max;
}

function pattern(x: unknown, re: RegExp, max: number): boolean {
  return isText(x, 0, max) && re.test(x);
}

function codePoints(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++, n++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) i++;
  }
  return n;
}
