import { ProtoflyError } from '../core/errors.js';

const MIB = 1024 * 1024;

/** What a host ended a sandbox for. */
export type Ending =
  /** It held its thread for `ms` without yielding (a heartbeat unanswered, a call not returned). */
  | { readonly code: 'PF_ERR_WATCHDOG'; readonly ms: number; readonly limitMs: number }
  /** Its JS heap went over `memoryMb` (`heap` bytes, when read). */
  | { readonly code: 'PF_ERR_MEMORY'; readonly memoryMb: number; readonly heap?: number }
  /** An array-buffer allocation that would have taken it to `wanted` bytes, holding `held`. */
  | {
      readonly code: 'PF_ERR_MEMORY';
      readonly memoryMb: number;
      readonly held: number;
      readonly wanted: number;
    }
  /** It held `outside` bytes outside its heap, over `memoryMb`. */
  | { readonly code: 'PF_ERR_MEMORY'; readonly memoryMb: number; readonly outside: number }
  | { readonly code: 'PF_ERR_SANDBOX'; readonly what: string };

const mib = (bytes: number) => Math.round(bytes / MIB);

/**
 * The error a host ends sandbox `label`, running `packages`, with. Every host words each
 * ending the same (operators and the attack suite read them), and puts its figures in `detail`.
 */
export function endedError(label: string, packages: readonly string[], ending: Ending): ProtoflyError {
  const { what, detail } = describe(ending);
  return new ProtoflyError(ending.code, `sandbox ${label} (${packages.join(', ') || 'idle'}) ${what}`, {
    sandbox: label,
    packages: [...packages],
    ...detail,
  });
}

function describe(ending: Ending): { what: string; detail: Record<string, unknown> } {
  if (ending.code === 'PF_ERR_SANDBOX') return { what: ending.what, detail: {} };
  if (ending.code === 'PF_ERR_WATCHDOG') {
    const { ms, limitMs } = ending;
    return {
      what: `held its thread for ${Math.round(ms)} ms without yielding (limit ${limitMs} ms) and was ended`,
      detail: { ms: Math.round(ms), limitMs },
    };
  }
  const { memoryMb } = ending;
  const limit = memoryMb * MIB;
  if ('held' in ending) {
    const { held, wanted } = ending;
    return {
      what: `held ${mib(held)} MiB of array buffers and would have taken ${mib(wanted)} MiB, over its ${memoryMb} MiB limit, and was ended`,
      detail: { held, limit },
    };
  }
  if ('outside' in ending)
    return {
      what: `held ${mib(ending.outside)} MiB outside its heap, over its ${memoryMb} MiB limit, and was ended`,
      detail: { outside: ending.outside, limit },
    };
  const heap = ending.heap === undefined ? '' : ` (${mib(ending.heap)} MiB of heap)`;
  return {
    what: `went over its ${memoryMb} MiB memory limit${heap} and was ended`,
    detail: ending.heap === undefined ? {} : { heap: ending.heap, limit },
  };
}
