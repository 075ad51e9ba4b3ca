// Mutation testing of the kernel-logic code: `npm run mutate` (about an hour on one core; see
// docs/mutation.md). Not part of `npm test` or CI. Restrict it to some files with
// `npm run mutate -- --mutate simulator/kvm/mmu/spte.ts`.
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'vitest',
  vitest: { configFile: 'vitest.mutation.config.mts', related: true },
  mutate: ['simulator/kvm/**/*.ts', 'simulator/arch/**/*.ts'],
  coverageAnalysis: 'perTest',
  // One test process: the machine's cores are shared.
  concurrency: 1,
  reporters: ['clear-text', 'progress', 'html', 'json'],
  htmlReporter: { fileName: 'reports/mutation/mutation.html' },
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  // The sandbox (a copy of the project with one file mutated) lives outside the checkout, so that a
  // `vitest run` in the checkout meanwhile does not pick up its copies of the tests.
  tempDirName: join(tmpdir(), 'mmu-lab-stryker'),
  cleanTempDir: 'always',
  // Not needed by the simulator's tests; keeps the sandbox copy small.
  ignorePatterns: ['dist', '*.vsix', 'test/e2e', 'test/webview', 'test/integration', 'docs/images', 'images', 'reports', '.npm-cache', 'test-artifacts', '.vitest-cache'],
};
