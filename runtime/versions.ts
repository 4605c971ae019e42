import type { Message } from '../core/message.js';
import type { StubPackage } from '../core/plugin.js';
import { SeenMessages } from '../core/seen.js';

/**
 * Which stub package versions a runtime runs, per domain: the one new conversations get, how
 * many instances each version runs, and when a superseded version runs none any more (the
 * runtime then unloads it).
 *
 * A domain's inbound messages pass a de-duplication window while it runs instances. Versions
 * overlap: both may receive one message (a node forks a user's messages to each of the user's
 * connections, and each version has its own), and a version taking a conversation over resends
 * what the old one had not seen acknowledged, which the far side's old version may have
 * delivered already, before anything here knew a swap would come.
 */

/**
 * Messages remembered per domain: a resent or forked copy comes within a stub's send window of
 * the original (json-ws: 256), well within these.
 */
const DEDUP_WINDOW = 4096;

/** Names a package version by its signature: what the sandbox evaluates once. */
export function versionOf(pkg: StubPackage): string {
  return pkg.descriptor.signature.value;
}

interface DomainVersions {
  current: StubPackage | undefined;
  /** Instances per version, and the package. */
  readonly running: Map<string, { pkg: StubPackage; instances: number }>;
  /** While it runs instances. */
  seen: SeenMessages | undefined;
}

export class Versions {
  readonly #domains = new Map<string, DomainVersions>();

  /** The version new conversations of `domain` get, once one was chosen. */
  current(domain: string): StubPackage | undefined {
    return this.#domains.get(domain)?.current;
  }

  /**
   * Makes `pkg` the version new conversations of its domain get. Returns the version it
   * replaces when that runs no instance: nothing needs it any more.
   */
  setCurrent(pkg: StubPackage): StubPackage | undefined {
    const d = this.#domain(pkg.descriptor.domain);
    const previous = d.current;
    d.current = pkg;
    return previous && versionOf(previous) !== versionOf(pkg) && !d.running.has(versionOf(previous))
      ? previous
      : undefined;
  }

  /** Whether `domain` runs instances (counted in by {@link started}, not yet out by {@link ended}). */
  runs(domain: string): boolean {
    return (this.#domains.get(domain)?.running.size ?? 0) > 0;
  }

  /** An instance of `pkg` starts. */
  started(pkg: StubPackage): void {
    const d = this.#domain(pkg.descriptor.domain);
    const version = versionOf(pkg);
    const entry = d.running.get(version);
    if (entry) entry.instances++;
    else d.running.set(version, { pkg, instances: 1 });
    d.seen ??= new SeenMessages(DEDUP_WINDOW);
  }

  /**
   * An instance of `pkg` ended. `obsolete`: that was the last instance of a version that is not
   * current (unload it); `last`: its domain runs nothing now.
   */
  ended(pkg: StubPackage): { obsolete: boolean; last: boolean } {
    const d = this.#domain(pkg.descriptor.domain);
    const version = versionOf(pkg);
    const entry = d.running.get(version);
    if (!entry) return { obsolete: false, last: d.running.size === 0 };
    if (--entry.instances > 0) return { obsolete: false, last: false };
    d.running.delete(version);
    if (d.running.size === 0) d.seen = undefined;
    return {
      obsolete: d.current === undefined || versionOf(d.current) !== version,
      last: d.running.size === 0,
    };
  }

  /** The versions of `domain` that run instances now. */
  running(domain: string): StubPackage[] {
    return [...(this.#domains.get(domain)?.running.values() ?? [])].map((e) => e.pkg);
  }

  /**
   * True when `msg`, inbound through a stub of `domain`, arrived already (through another of
   * its versions, or resent). Never for a provisional response: a repeated 1xx restarts the
   * bus's wait for the final one, as it should.
   */
  duplicate(domain: string, msg: Message): boolean {
    if (msg.type === 'response' && msg.body.code < 200) return false;
    const seen = this.#domains.get(domain)?.seen;
    return seen !== undefined && !seen.add(msg);
  }

  #domain(domain: string): DomainVersions {
    let d = this.#domains.get(domain);
    if (!d) {
      d = { current: undefined, running: new Map(), seen: undefined };
      this.#domains.set(domain, d);
    }
    return d;
  }
}
