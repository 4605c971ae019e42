import { execFile } from 'node:child_process';
import { join } from 'node:path';

const BIN = join(import.meta.dirname, '../../bin/protofly.js');

/** What a `protofly` child process did. */
export interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs the `protofly` command (dist/cli.js: `npm run build` first) as a child process, to its
 * exit; one that is still running after `timeoutMs` (default a minute: a half-started server)
 * is killed, code -1. `input` is its stdin.
 */
export function protofly(
  args: readonly string[],
  env: NodeJS.ProcessEnv = {},
  timeoutMs = 60_000,
  input = '',
): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      [BIN, ...args],
      { env: { ...process.env, ...env }, timeout: timeoutMs },
      (err, stdout, stderr) =>
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr }),
    );
    child.stdin?.end(input);
  });
}

/** The last line of a command's output: where a failure's `PF_ERR_...: message` is. */
export const lastLine = (text: string) => text.trimEnd().split('\n').at(-1) ?? '';
