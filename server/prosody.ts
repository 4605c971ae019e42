import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ProtoflyError } from '../core/errors.js';
import { freePort } from '../node/free-port.js';
import { handshakeWithin, type LeashedProcess, startLeashed } from '../node/leashed-process.js';
import { packageRoot } from '../node/package-root.js';

/**
 * Prosody (PEERS.md: 0.12 from Debian) as protofly's tests, benchmarks and `demo --xmpp` run it,
 * its configuration in this one place: written now, in a directory of its own, users written as
 * account files, run in the foreground on loopback ports of its own, with XMPP over WebSocket
 * (RFC 7395) at `/xmpp-websocket` over plain ws:// (loopback is taken as secure), and the guest
 * module (server/xmpp-guest/mod_protofly_guests.lua). `restart()` stops it and starts it again
 * where it was: sockets die, accounts and offline messages stay (they are on disk).
 */

/** Where the guest module is: Prosody's `plugin_paths`. */
const GUEST_MODULES = join(packageRoot(import.meta.url), 'server/xmpp-guest');
/** What to run when it is missing. */
export const PROSODY_INSTALL = 'apt-get install -y prosody';

export interface ProsodyOptions {
  /** The virtual host it serves: the XMPP domain, and the protofly domain of its users. */
  readonly domain: string;
  /** Users and their passwords; no name holds `~`, which marks guests. */
  readonly users: Readonly<Record<string, string>>;
  /** How often the guest module removes guest accounts unused past their time, in seconds. Default 60. */
  readonly guestSweepSeconds?: number;
}

export interface Prosody {
  readonly domain: string;
  /** `ws://127.0.0.1:<port>/xmpp-websocket`. */
  readonly wsUrl: string;
  /** The host's accounts (internal storage, `<user>.dat`), where guest accounts are written. */
  readonly accountsDir: string;
  /** The end of its console log, for a failure's message. */
  log(): string;
  restart(): Promise<void>;
  stop(): Promise<void>;
}

const BINARY = process.env.PROTOFLY_PROSODY ?? '/usr/bin/prosody';
/** Its console log's least level: `PF_PROSODY_LOG=debug` to see what it does with each stanza. */
const LOG_LEVEL = process.env.PF_PROSODY_LOG ?? 'info';
/** A Lua string literal. */
const lua = (s: string) => JSON.stringify(s);

/** Prosody's file name for a host or user: what is not alphanumeric, %-encoded (`x%2eexample`; Lua's `%W` in util/datamanager.lua). */
const encoded = (s: string) =>
  [...s]
    .map((c) => (/[A-Za-z0-9]/.test(c) ? c : `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`))
    .join('');

/** True when the Prosody binary is installed. */
export function prosodyInstalled(): boolean {
  return existsSync(BINARY);
}

/** A Prosody account file's content (internal storage, plain passwords), with more fields as Lua. */
export function accountFile(password: string, more: Readonly<Record<string, number>> = {}): string {
  const fields = Object.entries(more).map(([k, v]) => ` [${lua(k)}] = ${v};`);
  return `return { ["password"] = ${lua(password)};${fields.join('')} };\n`;
}

/** An account's file name in a host's accounts directory. */
export const accountName = (user: string) => `${encoded(user)}.dat`;

/**
 * Starts Prosody for `options.domain` and resolves once its WebSocket endpoint takes an `xmpp`
 * handshake.
 *
 * @throws ProtoflyError `PF_ERR_CONFIG` when a user's name holds `~`, when Prosody is not
 *   installed (saying how to install it), or when it exits or does not listen within 10 s
 *   (with the end of its log).
 */
export async function startProsody(options: ProsodyOptions): Promise<Prosody> {
  if (!prosodyInstalled())
    throw new ProtoflyError(
      'PF_ERR_CONFIG',
      `Prosody is not installed at ${BINARY}; install it with: ${PROSODY_INSTALL}`,
    );
  const guestLike = Object.keys(options.users).find((user) => user.includes('~'));
  if (guestLike !== undefined)
    throw new ProtoflyError(
      'PF_ERR_CONFIG',
      `Prosody user ${guestLike}: names with '~' are guests' (server/xmpp-guest), removed when they go offline`,
    );
  const dir = await mkdtemp(join(tmpdir(), 'pf-prosody-'));
  const data = join(dir, 'data');
  const accounts = join(data, encoded(options.domain), 'accounts');
  await mkdir(accounts, { recursive: true });
  await mkdir(join(dir, 'certs'));
  for (const [user, password] of Object.entries(options.users)) {
    await writeFile(join(accounts, accountName(user)), accountFile(password));
  }
  const [c2s, http] = [await freePort(), await freePort()];
  const config = join(dir, 'prosody.cfg.lua');
  await writeFile(
    config,
    `run_as_root = true
pidfile = ${lua(join(dir, 'prosody.pid'))}
data_path = ${lua(data)}
certificates = ${lua(join(dir, 'certs'))}
log = { { levels = { min = ${lua(LOG_LEVEL)} }, to = "console" } }
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
plugin_paths = { ${lua(GUEST_MODULES)} }
modules_enabled = { "roster", "saslauth", "disco", "ping", "websocket", "offline", "smacks", "protofly_guests" }
modules_disabled = { "s2s" }
protofly_guest_sweep = ${options.guestSweepSeconds ?? 60}
VirtualHost ${lua(options.domain)}
`,
  );
  const wsUrl = `ws://127.0.0.1:${http}/xmpp-websocket`;
  let log = () => '';
  let server: LeashedProcess | undefined;

  const start = async () => {
    server = startLeashed('Prosody', BINARY, ['--config', config, '-F'], { stdout: true });
    log = server.log;
    await Promise.race([handshakeWithin('Prosody', wsUrl, 'xmpp', 10_000, log), server.exited]);
  };
  const stop = async () => {
    const s = server;
    server = undefined;
    await s?.stop();
  };

  await start();
  return {
    domain: options.domain,
    wsUrl,
    accountsDir: accounts,
    log: () => log(),
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
