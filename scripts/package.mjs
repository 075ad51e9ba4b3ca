// Writes mmu-lab-<version>.vsix in the repository's root with @vscode/vsce, from what
// `npm run build` left in dist/ (`npm run package` runs both), then lists it and fails when it holds
// anything but what the extension runs (scripts/vsix_contents.mjs) or is too large.
//
// - No dependencies: every bundle in dist/ is self-contained (esbuild), node_modules is not shipped.
// - The package's README is the user README (USER_README), not the repository's README.md: its
//   images are inlined as data: URLs into dist/readme.md, which vsce ships as readme.md, because
//   the Details page loads no other image (scripts/vsix_contents.mjs, readmeProblems).
// - The package has no public repository: vsce is told so rather than given an invented URL, and
//   leaves the README's links as they are (vsce would otherwise need a repository to rewrite
//   relative links against, and refuse).
import { existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createVSIX } from '@vscode/vsce';
import { MAX_VSIX_BYTES, USER_README, inlineImages, readmeProblems, vsixProblems, zipEntries, zipText } from './vsix_contents.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const manifest = JSON.parse(readFileSync(resolve(root, 'package.json'), 'utf8'));
const out = resolve(root, `${manifest.name}-${manifest.version}.vsix`);

for (const f of [manifest.main, manifest.browser]) {
  if (!existsSync(resolve(root, f))) throw new Error(`${f} is missing: run \`npm run build\` first (or \`npm run package\`)`);
}

const readmePath = 'dist/readme.md';
writeFileSync(resolve(root, readmePath), inlineImages(readFileSync(resolve(root, USER_README), 'utf8'), (f) => readFileSync(resolve(root, f))));

await createVSIX({
  cwd: root,
  packagePath: out,
  readmePath,
  dependencies: false,
  allowMissingRepository: true,
  rewriteRelativeLinks: false,
});

const bytes = statSync(out).size;
const entries = zipEntries(out);
const kib = (n) => `${(n / 1024).toFixed(1)} KiB`;
console.log(`\n${out}: ${entries.length} entries, ${kib(bytes)} (limit ${kib(MAX_VSIX_BYTES)})`);
for (const e of [...entries].sort((a, b) => a.name.localeCompare(b.name))) console.log(`  ${kib(e.size).padStart(11)}  ${e.name}`);

const problems = [...vsixProblems(entries, bytes), ...readmeProblems(zipText(out, 'extension/readme.md') ?? '').map((p) => `readme.md: ${p}`)];
if (problems.length > 0) {
  console.error(`\n${out} is not fit to ship (deleted):\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  rmSync(out);
  process.exit(1);
}
