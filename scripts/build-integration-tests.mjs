// Bundles test/integration/suite.ts, the suite that runs inside VS Code, for both extension hosts:
//   dist/test/integration-web.js   the web worker host (VS Code for the Web; @vscode/test-web)
//   dist/test/integration-node.js  the Node host (desktop VS Code; @vscode/test-electron)
// Each is a CommonJS module exporting run(); 'vscode' is provided by the host.
//   node scripts/build-integration-tests.mjs
import { build } from 'esbuild';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

export async function buildIntegrationTests() {
  const common = {
    entryPoints: [join(root, 'test/integration/suite.ts')],
    bundle: true,
    format: 'cjs',
    external: ['vscode'],
    sourcemap: 'inline',
    logLevel: 'warning',
  };
  await build({ ...common, outfile: join(root, 'dist/test/integration-web.js'), platform: 'browser', target: 'es2022' });
  await build({ ...common, outfile: join(root, 'dist/test/integration-node.js'), platform: 'node', target: 'node20' });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await buildIntegrationTests();
