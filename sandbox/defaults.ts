import { DEFAULT_CEILINGS, type ResolvedPolicy } from '../runtime/policy.js';
import type { StubLimits } from './channel.js';
import type { SandboxLogger } from './host.js';

/** The limits a host gives its stubs unless told otherwise. */
export const DEFAULT_LIMITS: StubLimits = {
  windowBytes: 1024 * 1024,
  maxFrameBytes: 256 * 1024,
  logPerSecond: 50,
  logBurst: 100,
  // The ceilings of the default runtime policy.
  maxSocketsPerSession: DEFAULT_CEILINGS.maxSocketsPerSession,
  maxTimers: DEFAULT_CEILINGS.maxTimers,
  messagesPerSecond: DEFAULT_CEILINGS.messagesPerSecond,
  activateTimeoutMs: 10_000,
  stopTimeoutMs: 5_000,
};

/** A logger on the console, without debug lines: what a host uses when given none. */
export const consoleLogger: SandboxLogger = {
  debug: () => {},
  info: (fields, msg) => console.info(msg, fields),
  warn: (fields, msg) => console.warn(msg, fields),
  error: (fields, msg) => console.error(msg, fields),
};

/**
 * A host's limits: the defaults, the policy's ceilings over them, and the host's own settings
 * over those.
 */
export function hostLimits(policy: ResolvedPolicy, limits: Partial<StubLimits> = {}): StubLimits {
  const { maxSocketsPerSession, maxTimers, messagesPerSecond } = policy.limits;
  return { ...DEFAULT_LIMITS, maxSocketsPerSession, maxTimers, messagesPerSecond, ...limits };
}
