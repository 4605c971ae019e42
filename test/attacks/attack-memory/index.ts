import type { Activate } from '../../../core/stub.js';
import { answer, reportingStub } from '../report.js';

/**
 * Attack: on `execute bomb`, fills its JS heap in the shape `params.shape` names, keeping all
 * of it. The yielding shapes allocate every millisecond and stay responsive between (so a
 * memory bound, not the watchdog, has to stop them): `strings` (1 MiB of small strings),
 * `objects` (one array of small objects, whose every growth near the limit is one allocation
 * of tens of MiB) and `map` (one Map, rehashed into ever bigger tables). `string` makes one
 * string of 256 MiB in a single allocation; `sync` grows one array in a loop that never yields.
 */
const MIB = 1024 * 1024;

const shapes: Record<string, (hoard: unknown[], map: Map<string, number>) => void> = {
  strings: (hoard) => {
    for (let i = 0; i < 1024; i++) hoard.push(`${'x'.repeat(1024)}${hoard.length}`);
  },
  objects: (hoard) => {
    for (let i = 0; i < 32 * 1024; i++) hoard.push({ i });
  },
  map: (_, map) => {
    for (let i = 0; i < 32 * 1024; i++) map.set(`${map.size}`, i);
  },
};

const activate: Activate = (ctx) => {
  const hoard: unknown[] = [];
  const map = new Map<string, number>();
  return reportingStub(ctx, {}, (method, msg) => {
    if (method !== 'bomb') return false;
    const shape = String((msg.body as { params?: { shape?: string } }).params?.shape ?? 'strings');
    answer(ctx, msg, 200, 'allocating');
    // `repeat` makes a tree of concatenations; `slice` flattens it into one allocation.
    if (shape === 'string') ctx.setTimeout(() => hoard.push('x'.repeat(256 * MIB).slice(1)), 0);
    else if (shape === 'sync')
      ctx.setTimeout(() => {
        for (;;) hoard.push(hoard.length + 0.5);
      }, 0);
    else {
      const step = shapes[shape];
      if (step) ctx.setInterval(() => step(hoard, map), 1);
    }
    return true;
  });
};

export default activate;
