// Bundles the command-line runner (later: the extension, its worker and the webview) with esbuild.
import { build } from 'esbuild';
import { chmodSync } from 'node:fs';

await build({
  entryPoints: ['simulator/cli/main.ts'],
  outfile: 'dist/cli.js',
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  banner: { js: '#!/usr/bin/env node' },
  sourcemap: true,
  logLevel: 'warning',
});
chmodSync('dist/cli.js', 0o755);

await build({
  entryPoints: ['simulator/cli/compare_worker.ts'],
  outfile: 'dist/compare-worker.js',
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  logLevel: 'warning',
});

// The simulator as a platform-neutral ES module (Node, workers, browsers), for scripts and, later,
// the extension's worker and the webview.
await build({
  entryPoints: ['simulator/index.ts'],
  outfile: 'dist/sim.mjs',
  bundle: true,
  platform: 'neutral',
  format: 'esm',
  target: 'es2022',
  sourcemap: true,
  logLevel: 'warning',
});
