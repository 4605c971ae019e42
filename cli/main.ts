import { readFileSync } from 'node:fs';
import { isProtoflyError, ProtoflyError } from '../core/errors.js';
import { storageError } from '../node/files.js';
import { catalogue } from './catalogue.js';
import { cdr } from './cdr.js';
import { chat } from './chat.js';
import type { Command } from './command.js';
import { demo } from './demo.js';
import { dev } from './dev.js';
import { keygen } from './keygen.js';
import { newProject } from './new.js';
import { login } from './oidc-login.js';
import { publish } from './publish.js';
import { release } from './release.js';
import { rollback } from './rollback.js';
import { serve } from './serve.js';
import { stats } from './stats.js';
import { users } from './users.js';
import { verify } from './verify.js';

/** The `protofly` command. Each later command is one entry in COMMANDS. */

const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

const COMMANDS: Readonly<Record<string, Command>> = {
  serve,
  demo,
  keygen,
  publish,
  release,
  rollback,
  catalogue,
  verify,
  users,
  cdr,
  stats,
  chat,
  login,
  new: newProject,
  dev,
};

function help(): string {
  const rows = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(12)}${c.summary}`);
  return [
    `protofly ${version}: signaling on the fly`,
    '',
    'Usage: protofly <command> [options]',
    '',
    'Commands:',
    ...(rows.length ? rows : ['  (none yet)']),
    '',
    'Options:',
    '  --help      show this help',
    '  --version   print the version',
  ].join('\n');
}

/** Runs the command line; resolves to the exit status. */
export async function main(argv: readonly string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    console.log(help());
    return 0;
  }
  if (name === '--version' || name === '-v') {
    console.log(version);
    return 0;
  }
  const command = COMMANDS[name];
  if (!command) {
    const err = new ProtoflyError('PF_ERR_USAGE', `unknown command '${name}'`, { command: name });
    console.error(`${help()}\n\n${err.message}`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(`${command.summary}\n\nusage: ${command.usage}\n\n${command.help}`);
    return 0;
  }
  try {
    return await command.run(rest);
  } catch (caught) {
    // A disk fault nothing coded on the way (a full or read-only directory) is PF_ERR_STORAGE;
    // any other refusal of the system, PF_ERR_CONFIG.
    const err = systemError(storageError(caught, `run ${name}`));
    if (!isProtoflyError(err)) throw err;
    // One line, `PF_ERR_...: message`, last on stderr: for people and scripts alike.
    console.error(err.message.replace(/\s*\n\s*/g, ' '));
    return err.code === 'PF_ERR_USAGE' ? 2 : 1;
  }
}

/**
 * What the operating system refused (a port in use, a data directory under a file, a folder
 * not allowed) is a configuration problem: say which, with a code.
 */
function systemError(err: unknown): unknown {
  const e = err as NodeJS.ErrnoException & { address?: string; port?: number };
  if (typeof e?.code !== 'string' || typeof e.syscall !== 'string') return err;
  if (e.syscall === 'listen') {
    const why = e.code === 'EADDRINUSE' ? 'is in use' : `cannot be listened on (${e.code})`;
    return new ProtoflyError(
      'PF_ERR_CONFIG',
      `${e.address}:${e.port} ${why}: choose other ports in the domain config`,
      { address: e.address, port: e.port },
    );
  }
  const what = e.path ? `${e.syscall} ${e.path}` : e.syscall;
  const why = ERRNO[e.code] ? `${ERRNO[e.code]} (${e.code})` : e.code;
  return new ProtoflyError('PF_ERR_CONFIG', `cannot ${what}: ${why}`, { path: e.path, errno: e.code });
}

/** What the usual refusals of the file system mean, for a person. */
const ERRNO: Readonly<Record<string, string>> = {
  ENOTDIR: 'a part of the path is a file, not a folder',
  ENOENT: 'no such file or folder',
  EACCES: 'permission denied',
  EPERM: 'not permitted',
  EEXIST: 'it exists already',
  EISDIR: 'it is a folder',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on the device',
};
