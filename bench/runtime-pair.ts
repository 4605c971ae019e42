import { createNodeRuntime } from '../entry/node-runtime.js';
import { developmentPolicy } from '../runtime/policy.js';
import { NodeWorkerHost } from '../sandbox/node/worker-host.js';
import { alternate, inFlight } from './harness.js';

/** What `runtimePair` needs of a carrier domain: its catalogue, and the stub's config for its users. */
export interface PairOptions {
  readonly domain: string;
  readonly catalogueUrl: string;
  readonly stubConfig: Readonly<Record<string, unknown>>;
  readonly rounds: number;
  /** Chats per round, `window` in flight. */
  readonly n: number;
  readonly window: number;
  readonly text: string;
  /** The same load through the third-party library, alternated with ours. */
  readonly theirs: () => Promise<unknown>;
}

/**
 * The product path of a carrier domain's benchmark: Carol's and Dave's runtimes, the domain's
 * stub verified from its catalogue, in one worker sandbox host; Carol's chats to Dave, rounds
 * alternated with the third-party library's. Resolves with both rates per round.
 */
export async function runtimePair(options: PairOptions): Promise<[number[], number[]]> {
  const { domain, n, window } = options;
  const host = new NodeWorkerHost({ policy: developmentPolicy });
  const runtime = (user: string) =>
    createNodeRuntime({
      policy: developmentPolicy,
      identity: { address: `user://${domain}/${user}` },
      catalogues: { [domain]: options.catalogueUrl },
      stubConfig: { [domain]: options.stubConfig },
      host,
      // Each run makes new domain keys: nothing to keep.
      dataDir: false,
    });
  const carol = runtime('carol');
  const dave = runtime('dave');
  try {
    // Dave's app reads what arrives (a conversation holds 10 000 unread, then answers 503).
    dave.runtime.on('conversation', (c) => c.on('message', () => {}));
    await dave.runtime.register();
    const withDave = await carol.runtime.conversation(`user://${domain}/dave`);
    return await alternate(
      options.rounds,
      () => inFlight(n, window, () => withDave.send(options.text)),
      () => inFlight(n, window, options.theirs),
    );
  } finally {
    await carol.close();
    await dave.close();
    await host.terminate();
  }
}
