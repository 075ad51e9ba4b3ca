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

const node = { platform: 'node', format: 'cjs', target: 'node20' };
// platform 'browser' makes esbuild fail on any Node built-in, so nothing Node-only can slip into the
// panel or the web extension (no polyfills).
const browser = { platform: 'browser', target: 'es2022' };

const bundles = [
  // The command-line runner and the worker thread `compare` runs each variant on.
  { entryPoints: ['simulator/cli/main.ts'], outfile: 'dist/cli.js', ...node, banner: { js: '#!/usr/bin/env node' } },
  { entryPoints: ['simulator/cli/compare_worker.ts'], outfile: 'dist/compare-worker.js', ...node },
  // The simulator as a platform-neutral ES module (Node, workers, browsers), for scripts.
  { entryPoints: ['simulator/index.ts'], outfile: 'dist/sim.mjs', platform: 'neutral', format: 'esm', target: 'es2022' },
  // The results panel (its stylesheet and the codicons are copied below).
  { entryPoints: ['webview/main.ts'], outfile: 'dist/webview/panel.js', ...browser, format: 'iife' },
  // The extension host side ('vscode' is provided by the editor at run time), for Node (`main`) and
  // for VS Code for the Web's web-worker host (`browser`), each with the worker it runs the simulator
  // on (extension/simulator_client.ts). Source maps are separate files, left out of the .vsix.
  { entryPoints: ['extension/extension.ts'], outfile: 'dist/extension.js', ...node, define, external: ['vscode'] },
  { entryPoints: ['extension/worker/node_main.ts'], outfile: 'dist/worker.js', ...node },
  { entryPoints: ['extension/extension_web.ts'], outfile: 'dist/extension-web.js', ...browser, format: 'cjs', define, external: ['vscode'] },
  { entryPoints: ['extension/worker/web_main.ts'], outfile: 'dist/worker-web.js', ...browser, format: 'iife' },
];

await Promise.all(bundles.map((b) => build({ bundle: true, sourcemap: true, logLevel: 'warning', ...b })));
chmodSync('dist/cli.js', 0o755);

// The panel loads nothing from outside the extension: its stylesheet, and the codicon font and
// stylesheet that vscode-icon uses.
mkdirSync('dist/webview', { recursive: true });
copyFileSync('webview/panel.css', 'dist/webview/panel.css');
copyFileSync('node_modules/@vscode/codicons/dist/codicon.css', 'dist/webview/codicon.css');
copyFileSync('node_modules/@vscode/codicons/dist/codicon.ttf', 'dist/webview/codicon.ttf');
