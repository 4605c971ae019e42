import { type ChildProcess, spawn } from 'node:child_process';
import WebSocket from 'ws';
import { ProtoflyError } from '../core/errors.js';

/**
 * A real server (Kamailio, Prosody) run as a child of this process for tests, benchmarks and
 * demos: started on a leash, waited for until its WebSocket endpoint answers, and stopped within
 * a bound, whatever state it is in.
 */

/** Seconds a server has to exit once told to stop (SIGTERM), before it is killed (SIGKILL). */
const STOP_GRACE_S = 5;
/** Bytes kept of the end of what a server writes, for a failure's message. */
const LOG_BYTES = 32 * 1024;

/**
 * Runs the server (`$0 "$@"`) on a leash: it gets SIGTERM when this process closes the pipe on
 * the shell's standard input, or dies in any way (even SIGKILL), so no server outlives its test;
 * and SIGKILL {@link STOP_GRACE_S} seconds later, should SIGTERM not have ended it (a server
 * busy or stuck in its shutdown held a test for two minutes). The shell exits with the server.
 */
const LEASH = `exec 3<&0; "$0" "$@" & pid=$!; (cat <&3 >/dev/null; kill -TERM $pid 2>/dev/null; sleep ${STOP_GRACE_S}; kill -KILL $pid 2>/dev/null) & wait $pid`;

/** A server process on its leash. */
export interface LeashedProcess {
  readonly child: ChildProcess;
  /** Rejects with PF_ERR_CONFIG, naming `name` and the end of its log, if it exits: race it with a start. */
  readonly exited: Promise<never>;
  /** Tells it to stop and resolves once it exited: at most {@link STOP_GRACE_S} s and a little later. */
  stop(): Promise<void>;
  /** The end of what it wrote: its standard error, and its output with `stdout`. */
  log(): string;
}

export interface LeashOptions {
  /** Its standard output is logged too (else ignored). */
  readonly stdout?: boolean;
  /** Called with what it writes, as it comes (a server's log lines that a test waits for). */
  readonly onLog?: (text: string) => void;
}

/** Starts `binary` with `args` on the leash, keeping the end of what it writes. */
export function startLeashed(
  name: string,
  binary: string,
  args: readonly string[],
  { stdout = false, onLog }: LeashOptions = {},
): LeashedProcess {
  const child = spawn('sh', ['-c', LEASH, binary, ...args], {
    stdio: ['pipe', stdout ? 'pipe' : 'ignore', 'pipe'],
  });
  let tail = '';
  const log = () => tail;
  const keep = (d: Buffer) => {
    const text = d.toString();
    tail = (tail + text).slice(-LOG_BYTES);
    onLog?.(text);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<never>((_, reject) =>
    child.once('exit', (code) =>
      reject(new ProtoflyError('PF_ERR_CONFIG', `${name} exited (${code}) before listening:\n${log()}`)),
    ),
  );
  exited.catch(() => {});
  return {
    child,
    exited,
    log,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.stdin?.end();
      }),
  };
}

/**
 * Resolves once a WebSocket handshake with `protocol` succeeds at `url`, trying again every 20 ms
 * (a server says nothing when it binds its port). Each try is bounded too: a server that takes
 * the connection and never answers its upgrade would otherwise hold the wait forever.
 *
 * @throws ProtoflyError `PF_ERR_CONFIG` after `timeoutMs`, naming `name`, with `log()`
 */
export async function handshakeWithin(
  name: string,
  url: string,
  protocol: string,
  timeoutMs: number,
  log: () => string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const ws = new WebSocket(url, protocol, { handshakeTimeout: Math.max(100, deadline - Date.now()) });
      ws.once('open', () => {
        ws.close();
        resolve(true);
      });
      ws.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) {
      throw new ProtoflyError(
        'PF_ERR_CONFIG',
        `${name} did not listen at ${url} within ${timeoutMs} ms:\n${log()}`,
      );
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}
