import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { freePort } from './ports.js';

/**
 * Prosody (PEERS.md: 0.12 from Debian) for one test: a config written now, in a directory of its
 * own, users written as account files, run in the foreground on loopback ports of its own, with
 * XMPP over WebSocket (RFC 7395) at `/xmpp-websocket` over plain ws:// (loopback is taken as
 * secure). `restart()` stops it and starts it again where it was: sockets die, accounts and
 * offline messages stay (they are on disk).
 */

/** The XMPP domain of the tests, and its users' passwords. */
export const XMPP_DOMAIN = 'x.example';
export const PASSWORDS: Readonly<Record<string, string>> = {
  alice: 'alice-pw',
  bob: 'bob-pw',
  erin: 'erin-pw',
};

export interface ProsodyOptions {
  /** The virtual host it serves: the XMPP domain, and the protofly domain of its users. */
  readonly domain: string;
  /** Users and their passwords. */
  readonly users: Readonly<Record<string, string>>;
}

export interface Prosody {
  readonly domain: string;
  /** `ws://127.0.0.1:<port>/xmpp-websocket`. */
  readonly wsUrl: string;
  /** The end of its console log, for a failure's message. */
  log(): string;
  restart(): Promise<void>;
  stop(): Promise<void>;
}

const BINARY = process.env.PROTOFLY_PROSODY ?? '/usr/bin/prosody';
/** Kept of its console log. */
const LOG_BYTES = 32 * 1024;
/** Same leash as server/kamailio.ts: Prosody gets SIGTERM when this process goes, however it goes. */
const LEASH = 'exec 3<&0; "$0" "$@" & pid=$!; (cat <&3 >/dev/null; kill -TERM $pid 2>/dev/null) & wait $pid';

/** A Lua string literal. */
const lua = (s: string) => JSON.stringify(s);

/** Prosody's file name for a host or user: what is not alphanumeric, %-encoded (`x%2eexample`). */
const encoded = (s: string) =>
  [...s]
    .map((c) => (/[A-Za-z0-9_]/.test(c) ? c : `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`))
    .join('');

/** Starts Prosody for `options.domain` and resolves once its WebSocket endpoint takes an `xmpp` handshake. */
export async function startProsody(options: ProsodyOptions): Promise<Prosody> {
  if (!existsSync(BINARY))
    throw new Error(`Prosody is not installed at ${BINARY}; install it with: apt-get install -y prosody`);
  const dir = await mkdtemp(join(tmpdir(), 'pf-prosody-'));
  const data = join(dir, 'data');
  const accounts = join(data, encoded(options.domain), 'accounts');
  await mkdir(accounts, { recursive: true });
  await mkdir(join(dir, 'certs'));
  for (const [user, password] of Object.entries(options.users)) {
    await writeFile(join(accounts, `${encoded(user)}.dat`), `return { ["password"] = ${lua(password)}; };\n`);
  }
  const [c2s, http] = [await freePort(), await freePort()];
  const config = join(dir, 'prosody.cfg.lua');
  await writeFile(
    config,
    `run_as_root = true
pidfile = ${lua(join(dir, 'prosody.pid'))}
data_path = ${lua(data)}
certificates = ${lua(join(dir, 'certs'))}
log = { { levels = { min = "info" }, to = "console" } }
interfaces = { "127.0.0.1" }
c2s_ports = { ${c2s} }
s2s_ports = { }
http_ports = { ${http} }
http_interfaces = { "127.0.0.1" }
https_ports = { }
c2s_require_encryption = false
consider_websocket_secure = true
-- Plain passwords on disk: SCRAM-SHA-1 and SCRAM-SHA-256 can both be offered from them.
authentication = "internal_plain"
storage = "internal"
modules_enabled = { "roster", "saslauth", "disco", "ping", "websocket", "offline", "smacks" }
modules_disabled = { "s2s" }
VirtualHost ${lua(options.domain)}
`,
  );
  const wsUrl = `ws://127.0.0.1:${http}/xmpp-websocket`;
  let log = '';
  let child: ChildProcess | undefined;

  const start = async () => {
    const c = spawn('sh', ['-c', LEASH, BINARY, '--config', config, '-F'], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    child = c;
    const keep = (d: Buffer) => {
      log = (log + d.toString()).slice(-LOG_BYTES);
    };
    c.stdout?.on('data', keep);
    c.stderr?.on('data', keep);
    const exited = new Promise<never>((_, reject) =>
      c.once('exit', (code) => reject(new Error(`Prosody exited (${code}) before listening:\n${log}`))),
    );
    exited.catch(() => {});
    await Promise.race([handshake(wsUrl, 10_000, () => log), exited]);
  };
  const stop = async () => {
    const c = child;
    child = undefined;
    if (!c || c.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      c.once('exit', () => resolve());
      c.stdin?.end();
    });
  };

  await start();
  return {
    domain: options.domain,
    wsUrl,
    log: () => log,
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

/** Resolves once a WebSocket handshake with subprotocol `xmpp` succeeds at `url`. */
async function handshake(url: string, timeoutMs: number, log: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const ws = new WebSocket(url, 'xmpp');
      ws.once('open', () => {
        ws.close();
        resolve(true);
      });
      ws.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline)
      throw new Error(`Prosody did not listen at ${url} within ${timeoutMs} ms:\n${log()}`);
    // Polling the port until Prosody binds it: it says nothing on stdout when it does.
    await new Promise((r) => setTimeout(r, 20));
  }
}
