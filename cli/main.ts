import { readFileSync } from 'node:fs';
import { isProtoflyError, ProtoflyError } from '../core/errors.js';
import { storageError } from '../node/files.js';
import { catalogue } from './catalogue.js';
import { cdr } from './cdr.js';
import type { Command } from './command.js';
import { demo } from './demo.js';
import { keygen } from './keygen.js';
import { publish } from './publish.js';
import { serve } from './serve.js';
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
  catalogue,
  verify,
  users,
  cdr,
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
  if (rest.includes('--help')) {
    console.log(`${command.summary}\n\nusage: ${command.usage}`);
    return 0;
  }
  try {
    return await command.run(rest);
  } catch (caught) {
    // A disk fault nothing coded on the way (a full or read-only directory) is coded here.
    const err = storageError(listenError(caught), `run ${name}`);
    if (!isProtoflyError(err)) throw err;
    // The code alone on the last line of stderr, for scripts.
    console.error(`${err.message}\n${err.code}`);
    return err.code === 'PF_ERR_USAGE' ? 2 : 1;
  }
}

/** A port that cannot be listened on is a configuration problem: say which, with a code. */
function listenError(err: unknown): unknown {
  const e = err as NodeJS.ErrnoException & { address?: string; port?: number };
  if (e?.syscall !== 'listen' || (e.code !== 'EADDRINUSE' && e.code !== 'EACCES')) return err;
  const why = e.code === 'EADDRINUSE' ? 'is in use' : 'is not allowed';
  return new ProtoflyError(
    'PF_ERR_CONFIG',
    `${e.address}:${e.port} ${why}: choose other ports in the domain config`,
    {
      address: e.address,
      port: e.port,
    },
  );
}
