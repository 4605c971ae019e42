import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['{core,node,sandbox,plugins,server,cli,test}/**/*.test.ts'],
    testTimeout: 20_000,
    globalSetup: ['test/support/build.ts'],
  },
});
