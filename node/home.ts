import { homedir } from 'node:os';
import { join } from 'node:path';

/**
 * Where a user's protofly state lives on this machine (keys trusted on first use, versions
 * seen, verified packages): `$PROTOFLY_HOME`, default `~/.protofly`. `protofly verify` and Node
 * runtimes share it, so what one learned the other enforces.
 */
export function protoflyHome(): string {
  return process.env.PROTOFLY_HOME ?? join(homedir(), '.protofly');
}
