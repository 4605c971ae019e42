import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  // The stub scaffold (cli/templates/stub/) imports the package by name, as it does once
  // written out; here that name is the sources, so its own tests run in this suite.
  resolve: {
    alias: [
      { find: /^protofly$/, replacement: fileURLToPath(new URL('entry/node.ts', import.meta.url)) },
      { find: /^protofly\/stub$/, replacement: fileURLToPath(new URL('entry/stub.ts', import.meta.url)) },
      {
        find: /^protofly\/stub\/testing$/,
        replacement: fileURLToPath(new URL('entry/stub-testing.ts', import.meta.url)),
      },
    ],
  },
  test: {
    include: ['{core,runtime,node,sandbox,plugins,server,entry,cli,test}/**/*.test.ts'],
    // Bounds for a hung test or hook, not expectations: tests wait on events. Start-ups of
    // domains, Redis and Kamailio took over 10 s at a load of 20 on two cores.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // expect.poll waits for a condition; its default bound of 1 s failed a cluster test under
    // CI's load (the condition held a moment later). A bound, not a measure.
    expect: { poll: { timeout: 15_000 } },
    globalSetup: ['test/support/build.ts'],
    // isolated-vm's isolates crash a process whose Node started from its snapshot
    // (sandbox/isolate/isolated-vm.ts); the flag costs each test process a few ms of start-up.
    execArgv: ['--no-node-snapshot'],
  },
});
