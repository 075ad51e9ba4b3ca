// The end-to-end tests: the packaged extension in real workbenches (test/e2e/*.e2e.ts). They take
// minutes, start servers and browsers, and must not run side by side. The global setup bundles the
// integration suite that runs inside VS Code (test/integration/suite.ts -> dist/test/).
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/e2e/**/*.e2e.ts'],
    exclude: ['**/node_modules/**', 'test/e2e/.run/**'],
    globalSetup: ['test/e2e/global-setup.ts'],
    fileParallelism: false,
    testTimeout: 300_000,
    hookTimeout: 300_000,
    teardownTimeout: 60_000,
    reporters: ['default'],
  },
});
