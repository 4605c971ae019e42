import type { Message } from '../../core/message.js';
import type { SocketDelegate, StubContext, StubStatus } from '../../core/stub.js';
import type { FrameIdentity } from '../channel.js';
import type { WorkerInstance } from './instance.js';

/**
 * Builds the `ctx` a stub's `activate` receives: plain closures over its {@link WorkerInstance},
 * hardened, so the stub can neither reach the instance nor change what other code sees.
 */
export function createContext(
  instance: WorkerInstance,
  domain: string,
  identity: FrameIdentity,
  peer: string | undefined,
  config: Readonly<Record<string, unknown>>,
  snapshot: unknown,
  harden: <T>(value: T) => T,
): StubContext {
  return harden({
    domain,
    identity,
    peer,
    snapshot,
    config,
    session: instance.session.api,
    log: {
      debug: (msg: string, data?: unknown) => instance.log('debug', msg, data),
      info: (msg: string, data?: unknown) => instance.log('info', msg, data),
      warn: (msg: string, data?: unknown) => instance.log('warn', msg, data),
      error: (msg: string, data?: unknown) => instance.log('error', msg, data),
    },
    send: (msg: Message) => instance.send(msg),
    connect: (url: string, protocols: readonly string[], delegate: SocketDelegate) =>
      instance.connect(url, protocols, delegate),
    status: (status: StubStatus, detail?: string, code?: unknown) => instance.status(status, detail, code),
    setTimeout: (fn: () => void, ms: number) => instance.timer(fn, ms, false),
    clearTimeout: (id: number) => instance.clearTimer(id),
    setInterval: (fn: () => void, ms: number) => instance.timer(fn, ms, true),
    clearInterval: (id: number) => instance.clearTimer(id),
  });
}
