import { ProtoflyError } from '../../core/errors.js';
import { descriptorKey, labelOf, type StubPackage } from '../../core/plugin.js';
import { type PolicyOption, resolvePolicy } from '../../runtime/policy.js';
import type { HostFrame, StubLimits, WorkerFrame } from '../channel.js';
import { consoleLogger, hostLimits } from '../defaults.js';
import type { ConversationContext, SandboxHost, SandboxLogger, StubHandle } from '../host.js';
import { Sandbox } from '../sandbox.js';
import type { SocketFactory } from '../sockets.js';
import { Supervisor } from '../worker/supervisor.js';
import { WorkerLink } from '../worker-link.js';
import { ScriptCache } from './transform.js';
import { openWebSocket } from './websocket.js';

export interface InlineHostOptions {
  /**
   * The domains whose stubs may run inline. There is no default: a domain runs here only when
   * the configuration names it, and every other package is refused.
   */
  readonly trustedDomains: readonly string[];
  /** The runtime policy: the limits' ceilings and the addresses stubs may connect to. Default: the safe default. */
  readonly policy?: PolicyOption;
  readonly limits?: Partial<StubLimits>;
  readonly log?: SandboxLogger;
  readonly openSocket?: SocketFactory;
}

/**
 * Runs trusted development stubs in the runtime's own thread, with no isolation: no SES, no
 * watchdog, no memory limit. It speaks the same channel as a worker (an in-thread port that
 * copies every frame), so a stub behaves here as it will in the worker host: same checks,
 * same credit, same frozen `ctx`. It says so loudly, and refuses any package whose domain its
 * options do not list.
 */
export class InlineHost implements SandboxHost {
  readonly #trusted: ReadonlySet<string>;
  readonly #log: SandboxLogger;
  readonly #link: WorkerLink;
  readonly #sandbox: Sandbox;
  readonly #scripts = new ScriptCache();
  #closed = false;

  constructor(options: InlineHostOptions) {
    this.#trusted = new Set(options.trustedDomains);
    this.#log = options.log ?? consoleLogger;
    this.#log.warn(
      { trustedDomains: [...this.#trusted] },
      'INLINE SANDBOX: stubs run in the runtime thread with NO isolation (no SES, no watchdog, no memory limit); for trusted development stubs only',
    );
    const policy = resolvePolicy(options.policy);
    // Each side hands the other a structured copy, a microtask later: what a worker port does.
    const port =
      <F>(receive: (frame: F) => void) =>
      (frame: F) => {
        const copy = structuredClone(frame);
        queueMicrotask(() => receive(copy));
      };
    const supervisor: Supervisor = new Supervisor({
      post: port<WorkerFrame>((frame) => link.receive(frame)),
      // Trusted code: a plain function in this realm, with the same (module, exports, require) shape.
      evaluate: (script) => new Function(`return ${script}`)(),
      harden: freezeDeep,
      // The runtime's own thread: nothing here is the stubs' alone.
      memory: () => ({ heap: 0, external: 0 }),
    });
    const limits = hostLimits(policy, options.limits);
    const link: WorkerLink = new WorkerLink(
      port<HostFrame>((frame) => supervisor.receive(frame)),
      { label: 'inline', limits, log: this.#log },
    );
    this.#link = link;
    this.#sandbox = new Sandbox(link, {
      runtime: 'node',
      limits,
      policy,
      log: this.#log,
      openSocket: options.openSocket ?? openWebSocket,
    });
  }

  ready(): Promise<void> {
    return this.#sandbox.ready;
  }

  async instantiate(pkg: StubPackage, ctx: ConversationContext): Promise<StubHandle> {
    const script = await this.#trustedScript(pkg);
    this.#log.warn(
      { stub: labelOf(pkg), conversation: ctx.id },
      `INLINE SANDBOX: running ${labelOf(pkg)} unisolated`,
    );
    return this.#sandbox.instantiate(pkg, script, ctx);
  }

  async prepare(pkg: StubPackage): Promise<void> {
    const script = await this.#trustedScript(pkg);
    await this.#sandbox.prepare(pkg, script);
  }

  /** The script of `pkg`, whose domain this host must trust: its code runs unisolated here. */
  #trustedScript(pkg: StubPackage): Promise<string> {
    if (this.#closed) throw new ProtoflyError('PF_ERR_CLOSED', 'the inline sandbox host was terminated');
    const { domain } = pkg.descriptor;
    if (!this.#trusted.has(domain)) {
      throw new ProtoflyError(
        'PF_ERR_UNTRUSTED_DOMAIN',
        `the inline host refuses ${labelOf(pkg)}: domain ${domain} is not in its trustedDomains (${[...this.#trusted].join(', ') || 'none'})`,
        { domain, package: labelOf(pkg) },
      );
    }
    return this.#scripts.get(pkg);
  }

  unload(pkg: StubPackage): void {
    this.#scripts.forget(pkg);
    this.#sandbox.unload(descriptorKey(pkg.descriptor));
  }

  async terminate(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#sandbox.stopAll();
    this.#link.die(new ProtoflyError('PF_ERR_CLOSED', 'the inline sandbox host was terminated'));
  }
}

/**
 * Freezes a value and what it holds (own properties, not prototypes): the inline stand-in for
 * SES `harden`, so that a stub that tampers with its `ctx` fails here as it would in a worker.
 */
function freezeDeep<T>(value: T): T {
  if ((typeof value !== 'object' || value === null) && typeof value !== 'function') return value;
  if (Object.isFrozen(value)) return value;
  Object.freeze(value);
  for (const key of Reflect.ownKeys(value as object)) {
    const descriptor = Object.getOwnPropertyDescriptor(value, key);
    if (descriptor && 'value' in descriptor) freezeDeep(descriptor.value);
  }
  return value;
}
