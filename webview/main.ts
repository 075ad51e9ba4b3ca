// The results panel's entry point (bundled by esbuild into dist/webview/panel.js).

import { App } from './app';

new App(document.getElementById('app')!);
