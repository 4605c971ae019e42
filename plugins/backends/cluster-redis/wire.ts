import type { Frame } from '../../../server/services/service.js';

/**
 * What nodes publish to each other's channel, in batches (one PUBLISH per destination node per
 * tick):
 *
 * - deliveries: `D <from node>\n` then per frame `<seq> <session> <byte length>\n<frame>\n`;
 * - confirmations: `C <from node>\n<seq>:<1|0> <seq>:<1|0> ...` (1 = written to the session).
 *
 * Frames travel as their bytes, never re-encoded: a JSON frame inside JSON would be escaped
 * and parsed twice per hop.
 */

/** One frame for one session of the destination node. */
export interface Delivery {
  readonly seq: number;
  readonly session: string;
  readonly frame: Frame;
}

export type Batch =
  | { readonly kind: 'deliveries'; readonly from: string; readonly items: Delivery[] }
  | { readonly kind: 'confirmations'; readonly from: string; readonly results: [number, boolean][] };

const NL = 0x0a;

/** Encodes deliveries from node `from`. */
export function encodeDeliveries(from: string, items: readonly Delivery[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`D ${from}\n`)];
  for (const { seq, session, frame } of items) {
    const bytes = typeof frame === 'string' ? Buffer.from(frame) : frame;
    parts.push(Buffer.from(`${seq} ${session} ${bytes.byteLength}\n`), bytes as Buffer, Buffer.from('\n'));
  }
  return Buffer.concat(parts);
}

/** Encodes confirmations from node `from`. */
export function encodeConfirmations(from: string, results: readonly [number, boolean][]): Buffer {
  return Buffer.from(`C ${from}\n${results.map(([seq, ok]) => `${seq}:${ok ? 1 : 0}`).join(' ')}`);
}

/** Decodes a batch; undefined for anything else (a batch from a newer protofly, junk). */
export function decodeBatch(data: Buffer): Batch | undefined {
  const headEnd = data.indexOf(NL);
  if (headEnd < 3 || data[1] !== 0x20) return undefined;
  const from = data.toString('utf8', 2, headEnd);
  if (data[0] === 0x43 /* C */) {
    const results: [number, boolean][] = [];
    for (const pair of data.toString('utf8', headEnd + 1).split(' ')) {
      const [seq, ok] = pair.split(':');
      if (seq && ok) results.push([Number(seq), ok === '1']);
    }
    return { kind: 'confirmations', from, results };
  }
  if (data[0] !== 0x44 /* D */) return undefined;
  const items: Delivery[] = [];
  let at = headEnd + 1;
  while (at < data.length) {
    const lineEnd = data.indexOf(NL, at);
    if (lineEnd < 0) return undefined;
    const [seq, session, length] = data.toString('utf8', at, lineEnd).split(' ');
    const start = lineEnd + 1;
    const end = start + Number(length);
    if (!seq || !session || !Number.isInteger(Number(length)) || end > data.length) return undefined;
    items.push({ seq: Number(seq), session, frame: data.subarray(start, end) });
    at = end + 1;
  }
  return { kind: 'deliveries', from, items };
}
