import { join } from 'node:path';
import { describe, it } from 'vitest';
import type { MeasuredHost } from '../../sandbox/host.js';
import { verifiedPackageOf } from '../support/packages.js';
import {
  type HostFactory,
  type HostPropertyKey,
  type HostTestPackages,
  hostProperties,
  TITLES,
} from './host.properties.js';

export { HOST_TEST_DOMAINS, HOST_TEST_STUBS } from './host.properties.js';

/**
 * `hostConformance`: what every sandbox host does (core/host.ts), one suite that each host runs
 * with its own factory (Hono's router tests; the stubs' is `stubConformance`). Each property is
 * a plain async function of the subject (test/contracts/host.properties.ts, which a page runs
 * too); a limit the host does not claim is registered as one test that names it as not claimed
 * and why, never skipped silently.
 */

/** What a sandbox host under test claims. */
export interface HostClaims {
  readonly name: string;
  /** The limits it enforces on a stub: its memory (PF_ERR_MEMORY), its time on the thread (PF_ERR_WATCHDOG). */
  readonly limits: { readonly memory: boolean; readonly cpu: boolean };
  /** Why it sets no limit where a limit is false: named in that property's test. */
  readonly unclaimed?: string;
  /** It is a {@link MeasuredHost}: its sandboxes have heaps of their own, which `measure()` reads. */
  readonly measures: boolean;
}

/** A sandbox host under test, made in this process. */
export interface HostSubject extends HostClaims, HostFactory {}

/** Runs one property against the host, wherever the host lives (here, or in a page). */
export type RunProperty = (key: HostPropertyKey) => Promise<void>;

/** The test stubs in this process: published, signed and verified for real. */
export const nodePackages: HostTestPackages = (folder) =>
  verifiedPackageOf(join(import.meta.dirname, '..', folder));

/**
 * Registers every property of {@link hostProperties} as one test for the host: run here with
 * `subject`'s factory, or by `run` where the host lives (a page in Chromium), which must run
 * the same {@link hostProperties}.
 */
export function hostConformance(subject: HostSubject): void;
export function hostConformance(claims: HostClaims, run: RunProperty): void;
export function hostConformance(claims: HostClaims | HostSubject, run?: RunProperty): void {
  const runs = run ?? ((key: HostPropertyKey) => hostProperties[key](claims as HostSubject, nodePackages));
  describe(`host conformance: ${claims.name}`, () => {
    for (const key of Object.keys(hostProperties) as HostPropertyKey[]) {
      const limit = key === 'memory' || key === 'cpu' ? key : undefined;
      if (key === 'measure' && !claims.measures) {
        it(`${TITLES[key]}: not offered (measures is false: ${claims.name} has no heap apart from its runtime's)`, async () => {
          // A host made here is asked; one that lives elsewhere (a page) is held to its claims.
          if (claims.measures) throw new Error('claimed');
          if (!('create' in claims)) return;
          const host = claims.create({});
          await host.terminate();
          if ('measure' in host) throw new Error('offered');
        });
      } else if (!limit || claims.limits[limit]) it(TITLES[key], () => runs(key), 90_000);
      else {
        const why = claims.unclaimed ?? `${claims.name} sets no ${limit} limit`;
        it(`${TITLES[key]}: not claimed (limits.${limit} is false: ${why})`, () => {
          if (claims.limits[limit]) throw new Error('claimed');
        });
      }
    }
  });
}
