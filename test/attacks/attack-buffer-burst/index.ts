import type { Activate } from '../../../core/stub.js';
import { answer, reportingStub } from '../report.js';

/**
 * Attack: on `execute burst`, allocates ten times its 64 MiB limit in array buffers in one
 * synchronous run, by the allocation path `params.path` names, keeping all of it. (Pages are
 * left untouched where the path allows: the limit counts bytes, and a loaded machine is slow
 * to fault pages in.) On
 * `execute within`, allocates half its limit, drops it, and answers.
 */

const MIB = 1024 * 1024;
const CHUNK = 4 * MIB;
const TOTAL = 640 * MIB;

declare const TextEncoder: new () => { encode(text: string): Uint8Array };

type Buffer = ArrayBuffer & {
  resize(n: number): void;
  transfer(n?: number): ArrayBuffer;
  transferToImmutable?(n?: number): ArrayBuffer;
};

/** One chunk by each path; `from`, `arrayLike`, `resize` and `single` take the whole amount at once. */
const paths: Record<string, (keep: unknown[]) => void> = {
  ArrayBuffer: (keep) => keep.push(new ArrayBuffer(CHUNK)),
  Uint8Array: (keep) => keep.push(new Uint8Array(CHUNK)),
  BigInt64Array: (keep) => keep.push(new BigInt64Array(CHUNK / 8)),
  from: (keep) => keep.push(Uint8Array.from({ length: TOTAL })),
  arrayLike: (keep) => keep.push(new Uint8Array({ length: TOTAL } as ArrayLike<number>)),
  copy: (keep) => keep.push(new Uint8Array(new Uint8Array(CHUNK))),
  slice: (keep) => keep.push(new ArrayBuffer(CHUNK).slice(0)),
  typedSlice: (keep) => keep.push(new Uint8Array(CHUNK).slice()),
  transfer: (keep) => keep.push((new ArrayBuffer(1) as Buffer).transfer(CHUNK)),
  transferToImmutable: (keep) => keep.push((new ArrayBuffer(1) as Buffer).transferToImmutable!(CHUNK)),
  encode: (keep) => keep.push(new TextEncoder().encode('x'.repeat(CHUNK))),
  resize: (keep) => {
    const grows = new (ArrayBuffer as unknown as new (n: number, o: object) => Buffer)(0, {
      maxByteLength: TOTAL,
    });
    keep.push(grows);
    grows.resize(TOTAL);
  },
  single: (keep) => keep.push(new ArrayBuffer(TOTAL)),
};

/** Whether this platform has ArrayBuffer.prototype.transfer (Node 20 has not; SES's shim then throws). */
function transfers(): boolean {
  try {
    (new ArrayBuffer(1) as Buffer).transfer(1);
    return true;
  } catch {
    return false;
  }
}

const activate: Activate = (ctx) => {
  const keep: unknown[] = [];
  return reportingStub(ctx, {}, (method, msg) => {
    if (method === 'within') {
      const half = new Uint8Array(32 * MIB).fill(1);
      answer(ctx, msg, 200, half.length);
      return true;
    }
    if (method !== 'burst') return false;
    const name = String((msg.body as { params?: { path?: string } }).params?.path);
    const path = paths[name];
    if (!path) return false;
    const absent = name === 'transfer' && !transfers();
    answer(ctx, msg, 200, absent ? 'absent' : 'bursting');
    if (absent) return true;
    ctx.setTimeout(() => {
      while (keep.length * CHUNK < TOTAL) path(keep);
    }, 0);
    return true;
  });
};

export default activate;
