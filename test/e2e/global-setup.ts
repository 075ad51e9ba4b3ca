// Bundles the integration suite that runs inside VS Code (test/integration/suite.ts ->
// dist/test/integration-web.js and dist/test/integration-node.js) before the end-to-end files run.
import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';

export default function setup(): void {
  const root = resolve(__dirname, '../..');
  execFileSync(process.execPath, [resolve(root, 'scripts/build-integration-tests.mjs')], { cwd: root, stdio: 'inherit' });
}
