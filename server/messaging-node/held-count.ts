import type { Cluster } from '../services/service.js';

/** How old a count of held frames /metrics may show: about one scrape interval of Prometheus. */
const HELD_COUNT_MS = 15_000;

/**
 * The frames held in the domain now, for /metrics. Counting them reads every held list of the
 * cluster's store (on Redis a SCAN and a length per list: work that grows with the held
 * addresses, on the shared store), so each node takes a count at most every HELD_COUNT_MS, and
 * a scrape waits only for the first one: later scrapes get the last count while the next is
 * taken, and a store failing over does not stall them.
 */
export function heldCount(cluster: Pick<Cluster, 'held'>): () => Promise<number> {
  let last: number | undefined;
  let takenAt = Number.NEGATIVE_INFINITY;
  let taking: Promise<number> | undefined;
  const take = (): Promise<number> => {
    taking ??= cluster
      .held()
      .then((n) => {
        last = n;
        takenAt = performance.now();
        return n;
      })
      .finally(() => {
        taking = undefined;
      });
    return taking;
  };
  return async () => {
    if (performance.now() - takenAt < HELD_COUNT_MS) return last!;
    const next = take();
    if (last === undefined) return next;
    // A failed count is taken again at the next scrape; meanwhile the last one stands.
    next.catch(() => {});
    return last;
  };
}
