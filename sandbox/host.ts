/** The host interface lives in core (the runtime uses it); the sandbox's own addition is its logger. */
export type { ConversationContext, SandboxHost, StubHandle, StubHandleDelegate } from '../core/host.js';

/** Where hosts write; pino's `(fields, message)` shape, so a pino logger fits as is. */
export interface SandboxLogger {
  debug(fields: Record<string, unknown>, msg: string): void;
  info(fields: Record<string, unknown>, msg: string): void;
  warn(fields: Record<string, unknown>, msg: string): void;
  error(fields: Record<string, unknown>, msg: string): void;
}
