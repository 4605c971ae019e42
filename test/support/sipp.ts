import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../node/free-port.js';

/** Where Debian puts sipp; `PROTOFLY_SIPP` names another. */
const BINARY = process.env.PROTOFLY_SIPP ?? '/usr/bin/sipp';
/** The scenarios, test/sip/sipp/<name>.xml. */
const SCENARIOS = fileURLToPath(new URL('../sip/sipp/', import.meta.url));
/**
 * sipp's own bound on a run, far above what a scenario needs even on a loaded machine: a
 * scenario waiting for a message that never comes fails the run instead of hanging it.
 */
const TIMEOUT = '50s';

/** What one run of sipp did. */
export interface SippRun {
  /** sipp's exit status: 0 when every call passed, 1 when one failed, 255 when it could not run. */
  readonly status: number | null;
  /** Every message sent and received (`-trace_msg`), in order. */
  readonly messages: readonly SippMessage[];
  /** Why calls failed (`-trace_err`), empty when none did. */
  readonly errors: string;
  /** What sipp printed to its standard error. */
  readonly stderr: string;
}

/** One SIP message in sipp's trace. */
export interface SippMessage {
  readonly direction: 'sent' | 'received';
  /** The start line: `INVITE sip:… SIP/2.0` or `SIP/2.0 200 OK`. */
  readonly startLine: string;
  readonly text: string;
}

/** A sipp process playing one scenario against Kamailio's UDP listener. */
export interface Sipp {
  /** Its local UDP port: the Contact of a binding made for it. */
  readonly port: number;
  /** Resolves when sipp exits, with what it did. */
  readonly done: Promise<SippRun>;
  /** Ends it now (a test that failed before sipp did). */
  kill(): void;
}

export interface SippOptions {
  /** Kamailio's UDP port on 127.0.0.1. */
  readonly proxyPort: number;
  /** The user part of the Request-URI sipp sends to (`[service]`); for UAS scenarios unused. */
  readonly service?: string;
  /** Values of the scenario's `[name]` keywords (`-key`). */
  readonly keys?: Readonly<Record<string, string>>;
}

/**
 * Starts sipp with test/sip/sipp/`scenario`.xml for one call (`-m 1`), sending to Kamailio
 * over UDP from a loopback port of its own, with its message and error traces in a temporary
 * folder. Resolves once sipp listens on its port (so a UAS scenario hears the first request).
 * Throws when sipp is not installed: the test fails, saying how to install it.
 */
export async function startSipp(scenario: string, options: SippOptions): Promise<Sipp> {
  if (!existsSync(BINARY))
    throw new Error(
      `sipp is not installed at ${BINARY}; install it with: apt-get install -y sip-tester (Debian's sipp)`,
    );
  const dir = await mkdtemp(join(tmpdir(), 'pf-sipp-'));
  const port = await freePort('udp');
  const messageFile = join(dir, 'messages.log');
  const errorFile = join(dir, 'errors.log');
  const args = [
    `127.0.0.1:${options.proxyPort}`,
    '-sf',
    join(SCENARIOS, `${scenario}.xml`),
    '-i',
    '127.0.0.1',
    '-p',
    String(port),
    '-t',
    'u1',
    '-m',
    '1',
    '-s',
    options.service ?? 'sipp',
    '-timeout',
    TIMEOUT,
    '-timeout_error',
    '-nostdin',
    // Only the retransmissions a scenario writes: none of sipp's own on a slow answer.
    '-nr',
    '-trace_msg',
    '-message_file',
    messageFile,
    '-trace_err',
    '-error_file',
    errorFile,
    ...Object.entries(options.keys ?? {}).flatMap(([k, v]) => ['-key', k, v]),
  ];
  const child = spawn(BINARY, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => resolve(code));
    child.once('error', (err) => {
      stderr += String(err);
      resolve(null);
    });
  });
  const done = exited.then(async (status) => {
    const messages = parseTrace(await readFile(messageFile, 'utf8').catch(() => ''));
    const errors = await readFile(errorFile, 'utf8').catch(() => '');
    await rm(dir, { recursive: true, force: true });
    return { status, messages, errors, stderr };
  });
  await Promise.race([bound(port), exited]);
  return {
    port,
    done,
    kill: () => {
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
}

/**
 * The start lines of the messages of `run` that went `direction`; of those received, a
 * retransmission (the same message again, as Kamailio sends over UDP to a slow sipp) once.
 */
export function startLines(run: SippRun, direction: SippMessage['direction']): string[] {
  const seen = new Set<string>();
  return run.messages
    .filter((m) => m.direction === direction)
    .filter((m) => direction === 'sent' || (!seen.has(m.text) && seen.add(m.text)))
    .map((m) => m.startLine);
}

/** An account of a run for a failed assertion: its errors and the messages in order. */
export function describeRun(run: SippRun): string {
  const lines = run.messages.map((m) => `${m.direction === 'sent' ? '>' : '<'} ${m.text}\n`);
  return `sipp exited ${run.status}\n${run.errors}${run.stderr}\n${lines.join('\n')}`;
}

/**
 * sipp's `-trace_msg` file: each message after a line `----…` and a line
 * `… UDP message sent (n bytes):` or `… UDP message received [n] bytes :`, then a blank line.
 */
function parseTrace(text: string): SippMessage[] {
  const out: SippMessage[] = [];
  const parts = text.split(/^-{20,}.*\n/m);
  for (const part of parts) {
    const header = /^.*message (sent|received).*\n\n/.exec(part);
    if (!header) continue;
    const body = part.slice(header[0].length).replace(/\n+$/, '');
    out.push({
      direction: header[1] === 'sent' ? 'sent' : 'received',
      startLine: body.split(/\r?\n/, 1)[0] ?? '',
      text: body,
    });
  }
  return out;
}

/**
 * Resolves once something has bound UDP `port` on 127.0.0.1 (the kernel's table, /proc/net/udp).
 * The one wait here on a clock: sipp tells nothing when it listens (its screen goes to a pipe
 * block-buffered, not at start, even under `stdbuf -oL`), so the kernel's table is the barrier.
 */
async function bound(port: number): Promise<void> {
  const needle = `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  for (;;) {
    const table = await readFile('/proc/net/udp', 'utf8');
    if (table.includes(needle)) return;
    await new Promise((r) => setTimeout(r, 10));
  }
}
