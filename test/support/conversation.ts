import type { ProtoflyError } from '../../core/errors.js';
import { type Message, nextId, type ResponseMessage, request } from '../../core/message.js';
import type { StubPackage } from '../../core/plugin.js';
import type { StubStatus } from '../../core/stub.js';
import type { Bus } from '../../runtime/bus.js';
import type { SandboxHost, SandboxLogger, StubHandle } from '../../sandbox/host.js';

/** What the runtime saw of one conversation with a sandboxed stub, over a real bus. */
export interface TestConversation {
  readonly handle: StubHandle;
  /** The app's address (requests come from here, updates go here). */
  readonly app: string;
  /** The far peer's address, served by the stub. */
  readonly peer: string;
  readonly statuses: { status: StubStatus; detail?: string; error?: ProtoflyError }[];
  readonly refusals: ProtoflyError[];
  /** Messages other than responses that the stub sent to the app. */
  readonly updates: Message[];
  /** Sends a `create` through the bus and resolves with the stub's answer (or the bus's 408/404). */
  echo(text: string): Promise<ResponseMessage>;
  /** Sends an `execute` through the bus. */
  execute(method: string, params?: Record<string, unknown>): Promise<ResponseMessage>;
  /** Stops listening on the bus. */
  detach(): void;
}

export interface ConverseOptions {
  readonly id?: string;
  readonly config?: Record<string, unknown>;
  readonly identity?: string;
  /** Overrides the `from` addresses the stub is given. */
  readonly from?: readonly string[];
}

let count = 0;

/**
 * Starts a conversation with `pkg` on `host`, wired to `bus` as the runtime wires one: the
 * bus delivers what is addressed to the peer into the stub, and the stub's messages go back
 * onto the bus. The stub may send from its own domain's addresses only.
 */
export async function converse(
  host: SandboxHost,
  bus: Bus,
  pkg: StubPackage,
  options: ConverseOptions = {},
): Promise<TestConversation> {
  count += 1;
  const id = options.id ?? `conv${count}`;
  const { domain } = pkg.descriptor;
  const app = `user://a.example/${id}`;
  const peer = `user://${domain}/${id}`;
  const statuses: TestConversation['statuses'] = [];
  const refusals: ProtoflyError[] = [];
  const updates: Message[] = [];
  const handle = await host.instantiate(pkg, {
    id,
    identity: { address: options.identity ?? 'user://a.example/alice', token: 'token' },
    config: options.config ?? {},
    from: options.from ?? [`user://${domain}/`, `hyperty://${domain}/`],
    send: (msg) => bus.send(msg),
    delegate: {
      onStatus: (status, detail, error) => statuses.push({ status, detail, error }),
      onRefused: (error) => refusals.push(error),
    },
  });
  const stopPeer = bus.listen(peer, (msg) => handle.postMessage(msg));
  const stopApp = bus.listen(app, (msg) => updates.push(msg));
  return {
    handle,
    app,
    peer,
    statuses,
    refusals,
    updates,
    echo: (text) => bus.request(request('create', app, peer, { value: { text } }, nextId())),
    execute: (method, params) => bus.request(request('execute', app, peer, { method, params: params ?? {} })),
    detach: () => {
      stopPeer();
      stopApp();
    },
  };
}

/**
 * Waits until `check` returns true, polling; a containment deadline, not a timed assertion.
 *
 * @throws Error naming `what` after `ms`.
 */
export async function eventually(
  check: () => boolean | Promise<boolean>,
  what: string,
  ms = 10_000,
): Promise<void> {
  const deadline = performance.now() + ms;
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Echoes through `c` one request after another until told to finish; reports any request that did not come back right. */
export function keepTalking(c: TestConversation): {
  readonly sent: number;
  finish(): Promise<{ sent: number; failures: string[] }>;
} {
  let running = true;
  let sent = 0;
  const failures: string[] = [];
  const loop = (async () => {
    while (running) {
      sent += 1;
      const text = `m${sent}`;
      const res = await c.echo(text);
      const echoed = (res.body.value as { echo?: { value?: { text?: string } } })?.echo?.value?.text;
      if (res.body.code !== 200 || echoed !== text)
        failures.push(`${text}: ${res.body.code} ${res.body.description}`);
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
  })();
  return {
    get sent() {
      return sent;
    },
    async finish() {
      running = false;
      await loop;
      return { sent, failures };
    },
  };
}

/** A log line a sandbox host wrote. */
export interface LogLine {
  level: string;
  fields: Record<string, unknown>;
  msg: string;
}

/** A logger that keeps every line, and tells `onLine` of each as it comes. */
export function capture(logs: LogLine[], onLine?: (line: LogLine) => void): SandboxLogger {
  const at =
    (level: string) =>
    (fields: Record<string, unknown>, msg: string): void => {
      const line = { level, fields, msg };
      logs.push(line);
      onLine?.(line);
    };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}
