import type { ProtoflyError } from './errors.js';
import type { StubDescriptor } from './generated/types.js';
import type { Message } from './message.js';
import type { VerifiedPackage } from './plugin.js';
import type { StubStatus } from './stub.js';

/**
 * What the runtime needs from a sandbox host (sandbox/ implements it: a Node worker with SES
 * compartments, a browser Web Worker, inline for trusted development). Declared here because
 * core depends on no other folder.
 */
export interface SandboxHost {
  /** Evaluates the package (once per version) and activates one stub instance. */
  instantiate(pkg: VerifiedPackage<StubDescriptor>, options: InstanceOptions): Promise<StubInstance>;
  /** Ends every instance and releases the sandbox. */
  close(): Promise<void>;
}

export interface InstanceOptions {
  /** The stub's domain: the carrier of this conversation. */
  readonly domain: string;
  readonly identity: { readonly address: string; readonly token?: string };
  /** Validated against the descriptor's configuration schema. */
  readonly config: Readonly<Record<string, unknown>>;
  /** Receives every message the stub sends; the runtime checks and routes it. */
  send(msg: Message): void;
  onStatus(status: StubStatus, detail?: string): void;
  /** The instance failed (it threw, its sandbox crashed or was terminated) and is gone. */
  onFailure(err: ProtoflyError): void;
}

/** One running stub instance, as its host exposes it. */
export interface StubInstance {
  postMessage(msg: Message): void;
  stop(): Promise<void>;
}
