// The integration suite (test/integration/suite.ts) in desktop VS Code through @vscode/test-electron,
// wherever a VS Code binary is available: VSCODE_PATH names it (nothing is downloaded). Without one
// it prints one line saying so and exits 0.
//   VSCODE_PATH=/usr/share/code/code node scripts/e2e-desktop.mjs
import { cpSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const vscodeExecutablePath = process.env.VSCODE_PATH;

if (!vscodeExecutablePath || !existsSync(vscodeExecutablePath)) {
  console.log('desktop VS Code end-to-end: skipped (no VS Code binary here; set VSCODE_PATH to run the integration suite in desktop VS Code)');
  process.exit(0);
}

const { buildIntegrationTests } = await import('./build-integration-tests.mjs');
await buildIntegrationTests();
if (!existsSync(join(root, 'dist/extension.js'))) {
  console.error('desktop VS Code end-to-end: no dist/extension.js; run `npm run build` first');
  process.exit(1);
}

// A copy of examples/ as the workspace, and the editor's own folders, in the checkout's scratch dir.
const run = join(root, 'test/e2e/.run/desktop');
rmSync(run, { recursive: true, force: true });
const workspace = join(run, 'workspace');
cpSync(join(root, 'examples'), workspace, { recursive: true });
mkdirSync(join(run, 'user-data'), { recursive: true });

const { runTests } = await import('@vscode/test-electron');
let code = 0;
try {
  code = await runTests({
    vscodeExecutablePath,
    extensionDevelopmentPath: root,
    extensionTestsPath: join(root, 'dist/test/integration-node.js'),
    launchArgs: [
      workspace,
      '--disable-extensions',
      '--disable-workspace-trust',
      '--skip-welcome',
      '--skip-release-notes',
      '--user-data-dir', join(run, 'user-data'),
      '--extensions-dir', join(run, 'extensions'),
    ],
  });
} catch (e) {
  console.error('desktop VS Code end-to-end: failed:', e instanceof Error ? e.message : e);
  code = typeof e === 'number' ? e : 1;
}
console.log(`desktop VS Code end-to-end: ${code === 0 ? 'passed' : `failed (exit ${code})`}`);
process.exit(code);
