#!/usr/bin/env node
import { accessSync, constants } from 'node:fs';
import { createRequire } from 'node:module';
import process from 'node:process';

// Stubs run in same-thread isolates where isolated-vm loads, and only in a Node started without
// its startup snapshot (sandbox/isolate/isolated-vm.ts says why). A `protofly` started without
// the flag becomes, once, the same command with it: execve keeps the process (its id, signals,
// stdio), so nothing stands between a caller and the command. Where isolated-vm is absent
// (Node 20) or execve is (Windows, Node < 22.15), stubs run in worker threads, and the demos say so.
const FLAG = '--no-node-snapshot';
// A failed execve ends the process with a native stack trace (Node 24), so a Node binary this
// user may not run again (a folder of another user's on its path) is found out before.
if (
  !process.execArgv.includes(FLAG) &&
  typeof process.execve === 'function' &&
  installed('isolated-vm') &&
  executable(process.execPath)
) {
  try {
    process.execve(process.execPath, [process.execPath, FLAG, ...process.execArgv, ...process.argv.slice(1)]);
  } catch {
    // Not replaced (execve refused): this process runs the command, stubs in worker threads.
  }
}

const { main } = await import('../dist/cli.js');
process.exitCode = await main(process.argv.slice(2));

function executable(path) {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function installed(name) {
  try {
    createRequire(import.meta.url).resolve(name);
    return true;
  } catch {
    return false;
  }
}
