import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/**
 * What every benchmark reports: samples are summarised as median and p99; `baseline` is the
 * median of the reference measured in the same run, `ratio` = ours / baseline.
 */
export interface Result {
  name: string;
  unit: string;
  median: number;
  p99: number;
  baseline?: number;
  ratio?: number;
}

export interface BenchOptions {
  /** A short smoke run. */
  quick: boolean;
  /** The repository root (benches run bundled from dist/, so their own directory says nothing). */
  root: string;
}

/** The p-th percentile (0..100) of samples. */
export function percentile(samples: readonly number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  const i = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
  return sorted[Math.max(0, i)]!;
}

/**
 * Summarises samples of ours, and of a baseline when given. For a rate (a unit ending in
 * "/s") the tail that matters is the slow one, so its p99 is the 1st percentile.
 */
export function result(
  name: string,
  unit: string,
  ours: readonly number[],
  baseline?: readonly number[],
): Result {
  const tail = unit.endsWith('/s') ? 1 : 99;
  const r: Result = { name, unit, median: percentile(ours, 50), p99: percentile(ours, tail) };
  if (baseline) {
    r.baseline = percentile(baseline, 50);
    r.ratio = r.median / r.baseline;
  }
  return r;
}

/** A figure measured once (not a distribution), against a baseline measured in the same run when given. */
export function single(name: string, unit: string, value: number, baseline?: number): Result {
  const r: Result = { name, unit, median: value, p99: value };
  if (baseline !== undefined) {
    r.baseline = baseline;
    r.ratio = value / baseline;
  }
  return r;
}

/** Runs `round` `rounds` times after one warm-up, alternating with `base` so both see the same machine state. */
export async function alternate(
  rounds: number,
  round: () => Promise<number> | number,
  base: () => Promise<number> | number,
): Promise<[number[], number[]]> {
  await round();
  await base();
  const ours: number[] = [];
  const theirs: number[] = [];
  for (let i = 0; i < rounds; i++) {
    ours.push(await round());
    theirs.push(await base());
  }
  return [ours, theirs];
}

/** Sends `n` with `window` in flight (each `send` resolving when its answer came); resolves with sends per second. */
export function inFlight(n: number, window: number, send: () => Promise<unknown>): Promise<number> {
  return new Promise((resolve, reject) => {
    let sent = 0;
    let done = 0;
    const t0 = performance.now();
    const one = () => {
      sent++;
      send().then(() => {
        if (++done === n) resolve(n / ((performance.now() - t0) / 1000));
        else if (sent < n) one();
      }, reject);
    };
    for (let i = 0; i < Math.min(window, n); i++) one();
  });
}

/** Heap bytes in use after a full collection, for memory figures that do not depend on GC timing. */
export function heapAfterGc(): number {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
  const m = process.memoryUsage();
  return m.heapUsed + m.external;
}
