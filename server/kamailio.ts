import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ProtoflyError } from '../core/errors.js';
import { freePort } from '../node/free-port.js';
import { handshakeWithin, type LeashedProcess, startLeashed } from '../node/leashed-process.js';
import { packageRoot } from '../node/package-root.js';

/** The Kamailio config protofly's tests, benchmarks and `demo --sip` run (test/kamailio/kamailio.cfg). */
export const KAMAILIO_CONFIG = join(packageRoot(import.meta.url), 'test/kamailio/kamailio.cfg');
/** Where Debian puts the binary; `PROTOFLY_KAMAILIO` names another. */
const BINARY = process.env.PROTOFLY_KAMAILIO ?? '/usr/sbin/kamailio';
/** What to run when it is missing. */
export const KAMAILIO_INSTALL = 'apt-get install -y kamailio kamailio-websocket-modules kamailio-tls-modules';
/** The longest part of a log line kept while its end has not come (a watched line is short). */
const MAX_LINE = 4096;

export interface KamailioOptions {
  /** The SIP domain it serves (an alias of itself, and the digest realm). */
  readonly domain: string;
  /** Users of the domain and their passwords: the db_text subscriber table. */
  readonly users: Readonly<Record<string, string>>;
  /** Digest algorithm of its challenges. Default MD5. */
  readonly algorithm?: 'MD5' | 'SHA-256';
  /** Shortens tm's wait timer, for load (PEERS.md: finished transactions otherwise fill shared memory). */
  readonly loadTest?: boolean;
  /** Also listens for plain SIP over UDP on a loopback port, for test peers such as sipp. */
  readonly udp?: boolean;
  /**
   * Runs usrloc's expiry timer every second (default 60): a binding nobody refreshed goes, and
   * `guest <name> gone` is logged for a guest's, within a second of its expiry.
   */
  readonly quickExpiry?: boolean;
  /**
   * A secure WebSocket (wss) listener too, with this certificate and key (PEM files; Debian's
   * kamailio-tls-modules). Default: plain ws only.
   */
  readonly tls?: { readonly certFile: string; readonly keyFile: string };
}

/** A Kamailio running in the foreground on two loopback ports of its own. */
export interface Kamailio {
  readonly domain: string;
  /** RFC 7118 WebSocket listener. */
  readonly wsUrl: string;
  /** RFC 7118 secure WebSocket listener, when started with `tls`. */
  readonly wssUrl: string | undefined;
  /** JSON-RPC (jsonrpcs over xhttp) for the guest credential service. */
  readonly rpcUrl: string;
  /** The loopback UDP port for plain SIP, when `udp` was asked for. */
  readonly udpPort: number | undefined;
  /** The end of its standard error. */
  log(): string;
  /** Resolves at the first line of its standard error from now on that matches `pattern` (e.g. its `guest <name> gone` notice). */
  logged(pattern: RegExp): Promise<string>;
  /** Calls a JSON-RPC method (`ul.lookup`, `htable.get`...); resolves with its result, or rejects with its error. */
  rpc(method: string, params: readonly unknown[]): Promise<unknown>;
  /** Stops it and starts it again on the same ports, with the same users (its memory, guests included, is gone). */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/** True when the Kamailio binary is installed. */
export function kamailioInstalled(): boolean {
  return existsSync(BINARY);
}

/**
 * Starts Kamailio in the foreground (`-DD -E`) with its own run directory and db_text tables,
 * and resolves once its WebSocket listener completes a `sip` handshake.
 *
 * @throws ProtoflyError `PF_ERR_CONFIG` when Kamailio is not installed (saying how to install
 *   it) or exits or does not listen within 10 s (with the end of its log).
 */
export async function startKamailio(options: KamailioOptions): Promise<Kamailio> {
  if (!kamailioInstalled()) {
    throw new ProtoflyError(
      'PF_ERR_CONFIG',
      `Kamailio is not installed at ${BINARY}; install it with: ${KAMAILIO_INSTALL}`,
      {
        binary: BINARY,
      },
    );
  }
  const dir = await mkdtemp(join(tmpdir(), 'pf-kamailio-'));
  const db = join(dir, 'db');
  await mkdir(db);
  await mkdir(join(dir, 'run'));
  // db_text: every column filled (an empty field fails the whole table), version row for subscriber 7.
  const rows = Object.entries(options.users).map(
    ([user, pw], i) => `${i + 1}:${user}:${options.domain}:${escapeDbText(pw)}:x:x`,
  );
  await writeFile(
    join(db, 'subscriber'),
    `id(int,auto) username(string) domain(string) password(string) ha1(string) ha1b(string) \n${rows.join('\n')}\n`,
  );
  await writeFile(
    join(db, 'version'),
    'id(int,auto) table_name(string) table_version(int) \n0:subscriber:7\n',
  );
  const [wsPort, rpcPort] = [await freePort(), await freePort()];
  const udpPort = options.udp ? await freePort('udp') : undefined;
  const wssPort = options.tls ? await freePort() : undefined;
  const args = [
    '-f',
    KAMAILIO_CONFIG,
    '-DD',
    '-E',
    '-m',
    '64',
    '-M',
    '8',
    '-Y',
    join(dir, 'run'),
    '--substdef',
    `!WS_PORT!${wsPort}!`,
    '--substdef',
    `!RPC_PORT!${rpcPort}!`,
    '--substdef',
    `!DOMAIN!${options.domain}!`,
    '--substdef',
    `!DB_URL!text://${db}!`,
    '--substdef',
    `!ALGORITHM!${options.algorithm ?? 'MD5'}!`,
    ...(options.loadTest ? ['-A', 'LOAD_TEST'] : []),
    ...(options.quickExpiry ? ['-A', 'QUICK_EXPIRY'] : []),
    ...(udpPort ? ['-A', 'WITH_UDP', '--substdef', `!UDP_PORT!${udpPort}!`] : []),
    ...(options.tls
      ? [
          '-A',
          'WITH_TLS',
          '--substdef',
          `!WSS_PORT!${wssPort}!`,
          '--substdef',
          `!TLS_CERT!${options.tls.certFile}!`,
          '--substdef',
          `!TLS_KEY!${options.tls.keyFile}!`,
        ]
      : []),
  ];
  let log = () => '';
  /** Who waits for a line (see {@link Kamailio.logged}), and the part of a line not ended yet. */
  const watchers = new Set<{ pattern: RegExp; found(line: string): void }>();
  let partial = '';
  let server: LeashedProcess | undefined;
  const wsUrl = `ws://127.0.0.1:${wsPort}`;

  const start = async () => {
    const onLog = (text: string) => {
      const lines = (partial + text).split('\n');
      partial = lines.pop()!.slice(-MAX_LINE);
      for (const line of lines) {
        for (const w of watchers) {
          if (!w.pattern.test(line)) continue;
          watchers.delete(w);
          w.found(line);
        }
      }
    };
    server = startLeashed('Kamailio', BINARY, args, { onLog });
    log = server.log;
    // Kamailio binds every listener before its workers answer on any: ws answering means wss is up too.
    await Promise.race([handshakeWithin('Kamailio', wsUrl, 'sip', 10_000, log), server.exited]);
  };
  const stop = async () => {
    const s = server;
    server = undefined;
    await s?.stop();
  };

  const rpc = async (method: string, params: readonly unknown[]): Promise<unknown> => {
    const res = await fetch(`http://127.0.0.1:${rpcPort}/RPC`, {
      method: 'POST',
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
    });
    const reply = (await res.json()) as { result?: unknown; error?: { message: string } };
    if (reply.error) throw new ProtoflyError('PF_ERR_FETCH', `Kamailio ${method}: ${reply.error.message}`);
    return reply.result;
  };

  await start();
  return {
    domain: options.domain,
    wsUrl,
    wssUrl: wssPort === undefined ? undefined : `wss://127.0.0.1:${wssPort}`,
    rpcUrl: `http://127.0.0.1:${rpcPort}/RPC`,
    udpPort,
    log: () => log(),
    logged: (pattern) =>
      new Promise((found) => {
        watchers.add({ pattern, found });
      }),
    rpc,
    async restart() {
      await stop();
      await start();
    },
    async stop() {
      await stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** db_text separates columns with ':', escaped with a backslash like its other specials. */
function escapeDbText(value: string): string {
  return value.replace(
    /[\\:\n\r\t]/g,
    (c) => `\\${c === '\n' ? 'n' : c === '\r' ? 'r' : c === '\t' ? 't' : c}`,
  );
}
