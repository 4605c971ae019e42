import type { StubLimits } from './channel.js';
import type { SandboxLogger } from './host.js';

/** The limits a host gives its stubs unless told otherwise. */
export const DEFAULT_LIMITS: StubLimits = {
  windowBytes: 1024 * 1024,
  maxFrameBytes: 256 * 1024,
  logPerSecond: 50,
  logBurst: 100,
  maxSocketsPerSession: 8,
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
