import { type ParseArgsConfig, parseArgs } from 'node:util';
import { ProtoflyError } from '../core/errors.js';

/** One `protofly` command. */
export interface Command {
  readonly summary: string;
  readonly usage: string;
  /** Resolves to the exit status; throws a ProtoflyError to fail with its code. */
  run(args: readonly string[]): Promise<number>;
}

type Options = NonNullable<ParseArgsConfig['options']>;

/** Parses a command's arguments; wrong ones are `PF_ERR_USAGE` naming the problem. */
export function parse<O extends Options>(args: readonly string[], options: O, usage: string) {
  try {
    return parseArgs({ args: [...args], options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new ProtoflyError('PF_ERR_USAGE', `${(err as Error).message}\nusage: ${usage}`);
  }
}

/** A required option's value, or `PF_ERR_USAGE`. */
export function required(value: string | boolean | undefined, name: string, usage: string): string {
  if (typeof value !== 'string' || value.length === 0) {
    throw new ProtoflyError('PF_ERR_USAGE', `--${name} is required\nusage: ${usage}`);
  }
  return value;
}

/** Resolves on SIGINT or SIGTERM: how a long-running command learns it should stop. */
export function untilSignal(): Promise<void> {
  return new Promise((done) => {
    for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => done());
  });
}
