// The tests Stryker runs against each mutant (npm run mutate, stryker.config.mjs): the simulator's
// unit tests, i.e. the top-level test/*.test.ts files that import only simulator/ and test/helpers/.
// Left out: the extension's tests (extension-*: they import extension/ and shared/, some start a
// browser), the CLI tests (cli, compare: they spawn the dist/ bundle, which is built from the
// unmutated sources), the .vsix test (package), the webview/e2e suites (Chromium, workbenches) and the
// random-mutant fuzzers (fuzz-*: seconds per mutant, and they check robustness, not the kernel logic).
import { defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/** Files whose tests take seconds each (hundreds of thousands of simulated accesses), in the order
 *  they run: walker-sdm checks the guest walker against an independent oracle and kills most of its
 *  mutants; the mode comparisons (transparency, permissions-modes) share that walker with their
 *  reference, cost the most and go last. */
const SLOW = ['walker-sdm', 'scenario-parse', 'bounded', 'equivalence', 'transparency', 'permissions-modes'];
const rank = (file: string): number => {
  if (/\/mutation-[^/]+\.test\.ts$/.test(file)) return 0;
  const slow = SLOW.findIndex((s) => file.endsWith(`/${s}.test.ts`));
  return slow < 0 ? 1 : 2 + slow;
};

/** Stryker stops a mutant's run at its first failing test: let the quick, targeted files go first. */
class QuickFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    return [...files].sort((a, b) => rank(a.moduleId) - rank(b.moduleId) || a.moduleId.localeCompare(b.moduleId));
  }
}

export default defineConfig({
  test: {
    include: ['test/*.test.ts'],
    exclude: ['**/node_modules/**', 'test/extension-*.test.ts', 'test/cli.test.ts', 'test/compare.test.ts', 'test/package.test.ts', 'test/fuzz-*.test.ts'],
    sequence: { sequencer: QuickFirst },
    // Mutated (instrumented) code on the hot paths runs several times slower; Stryker's own timeout
    // catches the mutants that loop.
    testTimeout: 60_000,
    // Smaller exhaustive checks per mutant (see the two test files): they run for every surviving
    // mutant they cover.
    env: { TRANSPARENCY_RUNS: '50', PERMISSIONS_SAMPLE: '5' },
    reporters: ['default'],
  },
});
