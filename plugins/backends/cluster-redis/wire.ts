import type { Frame } from '../../../server/services/service.js';

/**
 * What nodes publish to each other's channel:
 *
 * - a batch (one PUBLISH per destination node at a time): `B <from node>\n`, then the
 *   confirmations of deliveries that node sent, `<seq>:<1|0> <seq>:<1|0> ...\n` (1 = safe with
 *   the session; the line may be empty), then per frame `<seq> <session> <byte length>\n<frame>\n`,
 *   or `<seq> <session> <byte length> <address>\n<frame>\n` for a frame the session takes only
 *   after what is held for `<address>` (see Cluster.deliver);
 * - a group message (built by the group script, once per node with members):
 *   `G <from node>\n<session> <session> ...\n<frame>`.
 *
 * Frames travel as their bytes, never re-encoded: a JSON frame inside JSON would be escaped
 * and parsed twice per hop.
 */

/** One frame for one session of the destination node. */
export interface Delivery {
  readonly seq: number;
  readonly session: string;
  readonly frame: Frame;
  /** The address whose held frames the session takes first. */
  readonly heldFirst?: string | undefined;
}

export type Batch =
  | {
      readonly kind: 'batch';
      readonly from: string;
      readonly results: [number, boolean][];
      readonly items: Delivery[];
    }
  | { readonly kind: 'group'; readonly from: string; readonly sessions: string[]; readonly frame: Buffer };

const NL = 0x0a;

/** Encodes, from node `from`, confirmations of what the destination sent it and deliveries to it. */
export function encodeBatch(
  from: string,
  results: readonly [number, boolean][],
  items: readonly Delivery[],
): Buffer {
  const confirmed = results.map(([seq, ok]) => `${seq}:${ok ? 1 : 0}`).join(' ');
  const parts: Buffer[] = [Buffer.from(`B ${from}\n${confirmed}\n`)];
  for (const { seq, session, frame, heldFirst } of items) {
    const bytes = typeof frame === 'string' ? Buffer.from(frame) : frame;
    const after = heldFirst ? ` ${heldFirst}` : '';
    parts.push(
      Buffer.from(`${seq} ${session} ${bytes.byteLength}${after}\n`),
      bytes as Buffer,
      Buffer.from('\n'),
    );
  }
  return Buffer.concat(parts);
}

/** Decodes a batch or a group message; undefined for anything else (from a newer protofly, junk). */
export function decodeBatch(data: Buffer): Batch | undefined {
  const headEnd = data.indexOf(NL);
  if (headEnd < 3 || data[1] !== 0x20) return undefined;
  const from = data.toString('utf8', 2, headEnd);
  const lineEnd = data.indexOf(NL, headEnd + 1);
  if (lineEnd < 0) return undefined;
  const line = data.toString('utf8', headEnd + 1, lineEnd);
  if (data[0] === 0x47 /* G */) {
    return { kind: 'group', from, sessions: line.split(' '), frame: data.subarray(lineEnd + 1) };
  }
  if (data[0] !== 0x42 /* B */) return undefined;
  const results: [number, boolean][] = [];
  for (const pair of line ? line.split(' ') : []) {
    const [seq, ok] = pair.split(':');
    if (seq && ok) results.push([Number(seq), ok === '1']);
  }
  const items: Delivery[] = [];
  let at = lineEnd + 1;
  while (at < data.length) {
    const end = data.indexOf(NL, at);
    if (end < 0) return undefined;
    const [seq, session, length, heldFirst] = data.toString('utf8', at, end).split(' ');
    const start = end + 1;
    const stop = start + Number(length);
    if (!seq || !session || !Number.isInteger(Number(length)) || stop > data.length) return undefined;
    items.push({ seq: Number(seq), session, frame: data.subarray(start, stop), heldFirst });
    at = stop + 1;
  }
  return { kind: 'batch', from, results, items };
}
