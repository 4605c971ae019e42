import { readFile } from 'node:fs/promises';
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { ProtoflyError } from '../core/errors.js';
import type { PolicyOption } from '../runtime/policy.js';

/** One `protofly` command. */
export interface Command {
  readonly summary: string;
  readonly usage: string;
  /** Its options with their defaults, and an example: what `protofly <command> --help` adds to the usage. */
  readonly help: string;
  /** Resolves to the exit status; throws a ProtoflyError to fail with its code. */
  run(args: readonly string[]): Promise<number>;
}

type Options = NonNullable<ParseArgsConfig['options']>;

/** A wrong call of command `name`: `PF_ERR_USAGE` saying what is wrong and where the help is. */
export function usageError(name: string, message: string): ProtoflyError {
  return new ProtoflyError('PF_ERR_USAGE', `${message} (see protofly ${name} --help)`, { command: name });
}

/** Parses command `name`'s arguments; wrong ones are `PF_ERR_USAGE` naming the problem. */
export function parse<O extends Options>(args: readonly string[], options: O, name: string) {
  try {
    return parseArgs({ args: [...args], options, allowPositionals: true, strict: true });
  } catch (err) {
    throw usageError(name, (err as Error).message.split('\n')[0] ?? 'wrong arguments');
  }
}

/** A required option's value, or `PF_ERR_USAGE`. */
export function required(value: string | boolean | undefined, option: string, name: string): string {
  if (typeof value !== 'string' || value.length === 0) throw usageError(name, `--${option} is required`);
  return value;
}

/** A port option's value (0: any free port), or `PF_ERR_USAGE`. */
export function portOption(value: string, option: string, name: string): number {
  const port = /^\d{1,5}$/.test(value) ? Number(value) : Number.NaN;
  if (!(port <= 65535)) throw usageError(name, `--${option} must be a port number (0-65535), not '${value}'`);
  return port;
}

/**
 * Tells a person at a terminal what a long operation is doing, on stderr; says nothing to a
 * script, whose output stays what the command prints.
 */
export function progress(text: string): void {
  if (process.stderr.isTTY) process.stderr.write(`${text}…\n`);
}

/** Resolves on SIGINT or SIGTERM: how a long-running command learns it should stop. */
export function untilSignal(): Promise<void> {
  return new Promise((done) => {
    for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => done());
  });
}

/**
 * A `--policy` option: `development` (loopback allowed, for a domain on this machine),
 * `default`, or a file following schemas/runtime-policy.schema.json (checked where it is used).
 */
export async function policyOption(value: string, command: string): Promise<PolicyOption> {
  if (value === 'development' || value === 'default') return value;
  try {
    return JSON.parse(await readFile(value, 'utf8')) as PolicyOption;
  } catch (err) {
    throw usageError(command, `--policy ${value}: ${(err as Error).message}`);
  }
}

/** The first line of stdin, for a secret given to command `name` (a terminal would echo it). */
export async function firstLineOfStdin(name: string, what: string): Promise<string> {
  if (process.stdin.isTTY) throw usageError(name, `give the ${what} on stdin (it is not echoed back)`);
  let text = '';
  for await (const chunk of process.stdin) text += chunk;
  return text.split(/\r?\n/)[0] ?? '';
}

/** Rows as a text table: each column as wide as its widest cell, two spaces between columns. */
export function textTable(rows: readonly (readonly string[])[]): string {
  const widths = (rows[0] ?? []).map((_, i) => Math.max(...rows.map((cells) => cells[i]?.length ?? 0)));
  return rows
    .map((cells) =>
      cells
        .map((c, i) => c.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** `--peer d=url` options of command `name` as a catalogue map, or `PF_ERR_USAGE`. */
export function peerCatalogues(peers: readonly string[], name: string): Record<string, string> {
  const map: Record<string, string> = {};
  for (const p of peers) {
    const at = p.indexOf('=');
    const url = p.slice(at + 1);
    if (at < 1 || !URL.canParse(url))
      throw usageError(name, `--peer must be <domain>=<catalogue URL>, not '${p}'`);
    map[p.slice(0, at)] = url;
  }
  return map;
}
