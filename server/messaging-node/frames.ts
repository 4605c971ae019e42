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

/** The message id of a frame that failed, when it can be read, so the error can name it. */
const ID = /^[\x21-\x7e]{1,128}$/;

/**
 * Parses and checks a frame from a client: `auth`, `msg`, `received` or `ping`.
 *
 * @throws ProtoflyError `PF_ERR_FRAME` (not JSON, binary, wrong shape, a frame only the node
 *   sends) or `PF_ERR_SCHEMA` (a `msg` whose message is invalid); `detail.id` is the
 *   message id when one could be read.
 */
export function readClientFrame(
  data: RawData,
  isBinary: boolean,
): AuthFrame | MsgFrame | ReceivedFrame | PingFrame {
  if (isBinary) throw frameError('binary frames are not json-ws; send text');
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

function frameError(message: string, id?: string): ProtoflyError {
  return new ProtoflyError('PF_ERR_FRAME', message, id === undefined ? {} : { id });
}

function idOf(frame: unknown): string | undefined {
  const id = (frame as { m?: { id?: unknown } } | null)?.m?.id;
  return typeof id === 'string' && ID.test(id) ? id : undefined;
}
