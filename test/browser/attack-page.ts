/**
 * The page the browser attack suite loads (test/browser/attacks.test.ts; bundled, served as
 * /attack-page.js under the strict page policy): a `BrowserWorkerHost` and a bus in the page,
 * the well-behaved probe talking next to each attack, as test/sandbox-attacks.test.ts does
 * in Node with the same stubs and the same helpers (test/support/conversation.ts). The test
 * drives it through `window.attacks`; what crosses is plain data.
 */
import type { ProtoflyError } from '../../core/errors.js';
import { request } from '../../core/message.js';
import type { StubPackage } from '../../core/plugin.js';
import { Bus } from '../../runtime/bus.js';
import { developmentPolicy } from '../../runtime/policy.js';
import { BrowserWorkerHost } from '../../sandbox/browser/worker-host.js';
import {
  type ConverseOptions,
  capture,
  converse,
  eventually,
  keepTalking,
  type LogLine,
  type TestConversation,
} from '../support/conversation.js';

type Package = StubPackage;

/** A coded error as plain data. */
const plain = (err: ProtoflyError | undefined) =>
  err && { code: err.code, message: err.message, detail: err.detail as Record<string, unknown> };

/** One scenario: a host, a bus, the probe talking, and the attacks' conversations. */
interface Scenario {
  readonly host: BrowserWorkerHost;
  readonly bus: Bus;
  readonly good: TestConversation;
  readonly talk: ReturnType<typeof keepTalking>;
  readonly logs: LogLine[];
  readonly conversations: TestConversation[];
}
let current: Scenario | undefined;
const at = () => {
  if (!current) throw new Error('no scenario: call attacks.begin() first');
  return current;
};
const conversation = (i: number) => at().conversations[i]!;

const attacks = {
  /** Starts a host with `watchdogMs`, and the probe talking on it. */
  async begin(probe: Package, watchdogMs: number): Promise<void> {
    const logs: LogLine[] = [];
    const host = new BrowserWorkerHost({
      workerUrl: new URL('/browser-worker.js', location.origin),
      policy: developmentPolicy,
      watchdogMs,
      log: capture(logs),
    });
    // Generous: a stub answering after a 100k-message flood on a busy machine is not a failure.
    const bus = new Bus({ onError: () => {}, timeoutMs: 15_000 });
    const good = await converse(host, bus, probe);
    current = { host, bus, good, talk: keepTalking(good), logs, conversations: [] };
  },
  /** A conversation with `pkg`: its index, or the coded refusal of its instantiation. */
  async open(pkg: Package, options?: ConverseOptions): Promise<{ index: number } | { rejected: unknown }> {
    const s = at();
    try {
      return { index: s.conversations.push(await converse(s.host, s.bus, pkg, options)) - 1 };
    } catch (err) {
      return { rejected: plain(err as ProtoflyError) };
    }
  },
  async execute(i: number, method: string, params?: Record<string, unknown>) {
    return (await conversation(i).execute(method, params)).body;
  },
  async echo(i: number, text: string) {
    return (await conversation(i).echo(text)).body;
  },
  /** What the runtime saw of conversation `i`. */
  view(i: number) {
    const c = conversation(i);
    return {
      status: c.handle.status,
      statuses: c.statuses.map((x) => ({ status: x.status, detail: x.detail, error: plain(x.error) })),
      refusals: c.refusals.map(plain),
      updates: c.updates.map((m) => (m.body as { value?: unknown }).value),
      logs: at()
        .logs.filter((l) => l.fields.conversation === c.handle.id)
        .map((l) => ({ msg: l.msg, dropped: l.fields.dropped })),
    };
  },
  /** Waits up to `ms` for conversation `i` to fail; the coded error it failed with. */
  async failure(i: number, ms?: number) {
    const c = conversation(i);
    await eventually(() => c.statuses.some((x) => x.status === 'failed'), `${c.peer} fails`, ms);
    return plain(c.statuses.find((x) => x.status === 'failed')?.error);
  },
  /** Waits for a host log line matching `pattern`. */
  async logged(pattern: string) {
    const re = new RegExp(pattern);
    await eventually(() => at().logs.some((l) => re.test(l.msg)), `a log line matching ${pattern}`);
  },
  async stop(i: number) {
    await conversation(i).handle.stop();
  },
  async snapshot(i: number) {
    try {
      await conversation(i).handle.snapshot();
      return { snapshot: true };
    } catch (err) {
      return { rejected: plain(err as ProtoflyError) };
    }
  },
  /** Posts to a stopped instance: the refusal's message. */
  postAfterStop(i: number): string {
    const c = conversation(i);
    try {
      c.handle.postMessage(request('create', c.app, c.peer, { value: {} }));
      return 'accepted';
    } catch (err) {
      return String((err as Error).message);
    }
  },
  /**
   * Ends the scenario: the probe says three more things after the attack, then what it saw
   * (failures, status, refusals, the intrinsics its worker sees) and whether the page's own
   * intrinsics are untouched.
   */
  async end() {
    const s = at();
    try {
      const after = s.talk.sent + 3;
      await eventually(() => s.talk.sent >= after, 'the well-behaved conversation keeps talking');
      const { failures } = await s.talk.finish();
      return {
        failures,
        status: s.good.handle.status,
        refusals: s.good.refusals.map(plain),
        pristine: (await s.good.execute('pristine')).body.value,
        pagePolluted: ({} as Record<string, unknown>).polluted,
      };
    } finally {
      await s.talk.finish();
      await s.host.terminate();
      s.bus.close();
      current = undefined;
    }
  },
};

(globalThis as unknown as { attacks: typeof attacks }).attacks = attacks;
document.body.dataset.ready = 'yes';
