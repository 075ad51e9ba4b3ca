// Bundles the command-line runner, the extension, its worker and the results panel with esbuild.
import { build } from 'esbuild';
import { chmodSync, copyFileSync, mkdirSync } from 'node:fs';

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

// The results panel: one browser script and its stylesheet, plus the codicon font and stylesheet
// that vscode-icon uses (copied, so the panel loads nothing from outside the extension).
await build({
  entryPoints: ['webview/main.ts'],
  outfile: 'dist/webview/panel.js',
  bundle: true,
  platform: 'browser',
  format: 'iife',
  target: 'es2022',
  sourcemap: true,
  logLevel: 'warning',
});
mkdirSync('dist/webview', { recursive: true });
copyFileSync('webview/panel.css', 'dist/webview/panel.css');
copyFileSync('node_modules/@vscode/codicons/dist/codicon.css', 'dist/webview/codicon.css');
copyFileSync('node_modules/@vscode/codicons/dist/codicon.ttf', 'dist/webview/codicon.ttf');

// The VS Code extension host side ('vscode' is provided by the editor at run time).
await build({
  entryPoints: ['extension/extension.ts'],
  outfile: 'dist/extension.js',
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  external: ['vscode'],
  sourcemap: true,
  logLevel: 'warning',
});

// The simulator's worker thread, which the extension starts for every run (extension/simulator_client.ts).
await build({
  entryPoints: ['extension/worker/node_main.ts'],
  outfile: 'dist/worker.js',
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  sourcemap: true,
  logLevel: 'warning',
});
