import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['{core,runtime,node,sandbox,plugins,server,entry,cli,test}/**/*.test.ts'],
    // Bounds for a hung test or hook, not expectations: tests wait on events. Start-ups of
    // domains, Redis and Kamailio took over 10 s at a load of 20 on two cores.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    globalSetup: ['test/support/build.ts'],
  },
});
