// What the .vsix may hold, and a reader of its file list (a .vsix is a zip). Shared by
// scripts/package.mjs, which refuses a package that breaks these rules, and test/package.test.ts.
import { readFileSync } from 'node:fs';

/** The largest .vsix accepted, in bytes. */
export const MAX_VSIX_BYTES = 4 * 1024 * 1024;

/** Files below `extension/` in the .vsix that must be there. */
export const REQUIRED = [
  'package.json',
  'readme.md', // vsce's names for README.md and LICENSE
  'LICENSE.txt',
  'images/icon.png',
  'dist/extension.js',
  'dist/extension-web.js',
  'dist/worker.js',
  'dist/worker-web.js',
  'dist/webview/panel.js',
  'dist/webview/panel.css',
  'dist/webview/codicon.css',
  'dist/webview/codicon.ttf',
  'schemas/mmio-scenario.schema.json',
  'snippets/mmio-scenario.code-snippets',
  'examples/doorbell.mmio.yaml',
];

/** Every file below `extension/` must match one of these. */
export const ALLOWED = [
  ...REQUIRED.map((f) => new RegExp(`^${f.replace(/[.]/g, '\\.')}$`)),
  /^changelog\.md$/i,
  /^schemas\/[^]+$/,
  /^snippets\/[^]+$/,
  /^examples\/([\w.-]+\/)*[\w.-]+\.mmio\.yaml$/,
  /^docs\/images\/[\w.-]+\.png$/, // the README's screenshot, shown on the extension's page
];

/** The package's own files, outside `extension/`. */
const VSIX_META = ['extension.vsixmanifest', '[Content_Types].xml'];

/** The entries of a zip file: name and uncompressed size, from its central directory. */
export function zipEntries(file) {
  const buf = readFileSync(file);
  // The end of central directory record: its signature, searched from the end (it may be followed
  // by a comment of up to 64 KiB).
  let eocd = -1;
  for (let i = buf.length - 22; i >= Math.max(0, buf.length - 22 - 0xffff); i--) {
    if (buf.readUInt32LE(i) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new Error(`${file}: not a zip file`);
  const count = buf.readUInt16LE(eocd + 10);
  let at = buf.readUInt32LE(eocd + 16);
  const entries = [];
  for (let n = 0; n < count; n++) {
    if (buf.readUInt32LE(at) !== 0x02014b50) throw new Error(`${file}: bad central directory entry ${n}`);
    const size = buf.readUInt32LE(at + 24);
    const nameLen = buf.readUInt16LE(at + 28);
    const extraLen = buf.readUInt16LE(at + 30);
    const commentLen = buf.readUInt16LE(at + 32);
    entries.push({ name: buf.toString('utf8', at + 46, at + 46 + nameLen), size });
    at += 46 + nameLen + extraLen + commentLen;
  }
  return entries;
}

/** What is wrong with a package of these entries and this size (empty: nothing). */
export function vsixProblems(entries, bytes) {
  const problems = [];
  const files = new Set();
  for (const { name } of entries) {
    if (name.endsWith('/')) continue; // a directory entry
    if (VSIX_META.includes(name)) continue;
    if (!name.startsWith('extension/')) {
      problems.push(`unexpected file outside extension/: ${name}`);
      continue;
    }
    const path = name.slice('extension/'.length);
    files.add(path);
    if (!ALLOWED.some((re) => re.test(path))) problems.push(`not allowed in the package: ${path}`);
  }
  for (const f of REQUIRED) if (!files.has(f)) problems.push(`missing from the package: ${f}`);
  for (const m of VSIX_META) if (!entries.some((e) => e.name === m)) problems.push(`missing from the package: ${m}`);
  if (bytes > MAX_VSIX_BYTES) problems.push(`the package is ${bytes} bytes, more than ${MAX_VSIX_BYTES}`);
  return problems;
}
