// Bundles the command-line runner, the extension (for Node and for the browser), its workers and the
// results panel with esbuild.
import { build } from 'esbuild';
import { chmodSync, copyFileSync, mkdirSync, readdirSync } from 'node:fs';

/** The bundled examples' paths below examples/ ("New MMIO Scenario" offers them): the extension
 *  bundles carry the list, for the hosts that cannot list the extension's folder (VS Code for the
 *  Web; extension/new_scenario.ts). */
const examples = readdirSync('examples', { recursive: true })
  .map((p) => String(p).replaceAll('\\', '/'))
  .filter((p) => p.endsWith('.mmio.yaml'))
  .sort();
const define = { MMU_LAB_EXAMPLES: JSON.stringify(examples) };

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
  define,
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

// VS Code for the Web (package.json `browser`): the extension for the web-worker extension host, a
// CommonJS bundle, and the Web Worker it runs the simulator on (extension/worker/web_main.ts).
// platform 'browser' makes esbuild fail on any Node built-in, so nothing Node-only can slip into
// them (no polyfills). Their source maps are separate files, left out of the .vsix.
await build({
  entryPoints: ['extension/extension_web.ts'],
  outfile: 'dist/extension-web.js',
  bundle: true,
  define,
  platform: 'browser',
  format: 'cjs',
  target: 'es2022',
  external: ['vscode'],
  sourcemap: true,
  logLevel: 'warning',
});

await build({
  entryPoints: ['extension/worker/web_main.ts'],
  outfile: 'dist/worker-web.js',
  bundle: true,
  platform: 'browser',
  format: 'iife',
  target: 'es2022',
  sourcemap: true,
  logLevel: 'warning',
});
