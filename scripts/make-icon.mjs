// Renders images/icon.svg to images/icon.png (128x128), the extension's icon, in Chromium
// (playwright-core with Debian's /usr/bin/chromium, or CHROMIUM_PATH). The PNG is committed: run
// this after editing the SVG.
import { readFileSync, writeFileSync } from 'node:fs';
import { chromium } from 'playwright-core';

const SIZE = 128;
const svg = readFileSync('images/icon.svg', 'utf8');
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
});
try {
  const page = await browser.newPage({ viewport: { width: SIZE, height: SIZE }, deviceScaleFactor: 1 });
  await page.setContent(`<!doctype html><html><body style="margin:0;background:transparent">${svg}</body></html>`);
  const png = await page.locator('svg').screenshot({ omitBackground: true, type: 'png' });
  writeFileSync('images/icon.png', png);
  console.log(`images/icon.png: ${SIZE}x${SIZE}, ${png.length} bytes`);
} finally {
  await browser.close();
}
