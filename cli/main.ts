import { readFileSync } from 'node:fs';
import { ProtoflyError } from '../core/errors.js';

/** The `protofly` command. Each later command is one entry in COMMANDS. */

const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

interface Command {
  readonly summary: string;
  run(args: readonly string[]): Promise<number>;
}

const COMMANDS: Readonly<Record<string, Command>> = {};

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
  return command.run(rest);
}
