// What the .vsix may hold, what its README may point to, and a reader of its files (a .vsix is a
// zip). Shared by scripts/package.mjs, which refuses a package that breaks these rules, and
// test/package.test.ts.
import { readFileSync } from 'node:fs';
import { Buffer } from 'node:buffer';
import { inflateRawSync } from 'node:zlib';

/** The README shipped as the extension's Details page (README.md is the repository's, for
 *  developers). scripts/package.mjs inlines its images (inlineImages) into dist/readme.md. */
export const USER_README = 'README.user.md';

/** The largest .vsix accepted, in bytes. */
export const MAX_VSIX_BYTES = 4 * 1024 * 1024;

/** Files below `extension/` in the .vsix that must be there. */
export const REQUIRED = [
  'package.json',
  'readme.md', // vsce's names for the README (dist/readme.md, see USER_README) and LICENSE
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
  // The reference documents the panel and the commands open (shared/docs.ts).
  'docs/scenario-format.md',
  'docs/fault-classes.md',
];

/** Every file below `extension/` must match one of these. */
export const ALLOWED = [
  ...REQUIRED.map((f) => new RegExp(`^${f.replace(/[.]/g, '\\.')}$`)),
  /^changelog\.md$/i,
  /^schemas\/[^]+$/,
  /^snippets\/[^]+$/,
  /^examples\/([\w.-]+\/)*[\w.-]+\.mmio\.yaml$/,
];

/** The package's own files, outside `extension/`. */
const VSIX_META = ['extension.vsixmanifest', '[Content_Types].xml'];

/** The entries of a zip file: name and uncompressed size, from its central directory. */
export function zipEntries(file) {
  return centralDirectory(file, readFileSync(file)).map(({ name, size }) => ({ name, size }));
}

/** One entry's content as UTF-8 text, or null when the zip has no such entry. */
export function zipText(file, name) {
  const buf = readFileSync(file);
  const e = centralDirectory(file, buf).find((x) => x.name === name);
  if (!e) return null;
  if (buf.readUInt32LE(e.offset) !== 0x04034b50) throw new Error(`${file}: bad local header of ${name}`);
  const start = e.offset + 30 + buf.readUInt16LE(e.offset + 26) + buf.readUInt16LE(e.offset + 28);
  const data = buf.subarray(start, start + e.compressedSize);
  if (e.method === 0) return data.toString('utf8');
  if (e.method === 8) return inflateRawSync(data).toString('utf8');
  throw new Error(`${file}: ${name} uses compression method ${e.method}`);
}

function centralDirectory(file, buf) {
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
    const method = buf.readUInt16LE(at + 10);
    const compressedSize = buf.readUInt32LE(at + 20);
    const size = buf.readUInt32LE(at + 24);
    const nameLen = buf.readUInt16LE(at + 28);
    const extraLen = buf.readUInt16LE(at + 30);
    const commentLen = buf.readUInt16LE(at + 32);
    const offset = buf.readUInt32LE(at + 42);
    entries.push({ name: buf.toString('utf8', at + 46, at + 46 + nameLen), size, compressedSize, method, offset });
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

// The README on the Details page. VS Code renders it in a webview whose Content-Security-Policy
// admits images from https: and data: only, and whose links open only http(s) and mailto URLs (a
// relative link resolves against the webview's own address: dead; a relative image: blocked). So
// the shipped README carries its screenshots as data: URLs and links to absolute https URLs only;
// the reference documents are opened by the extension's commands, which the README names.

/** The links and images of a Markdown text: `[text](target)` and `![alt](target)`, and HTML
 *  `<img src>` / `<a href>`. */
export function markdownTargets(text) {
  const out = [];
  for (const m of text.matchAll(/(!?)\[(?:[^\]\[]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) out.push({ image: m[1] === '!', target: m[2] });
  for (const m of text.matchAll(/<(img|a)\b[^>]*?\b(?:src|href)\s*=\s*["']([^"']+)["']/gi)) out.push({ image: m[1].toLowerCase() === 'img', target: m[2] });
  for (const m of text.matchAll(/^\s*\[[^\]]+\]:\s*(\S+)/gm)) out.push({ image: false, target: m[1] });
  return out;
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** What of this README would not work on the Details page (empty: nothing). */
export function readmeProblems(text) {
  const problems = [];
  const targets = markdownTargets(text);
  if (!targets.some((t) => t.image)) problems.push('no image: the Details page should show the panel');
  for (const { image, target } of targets) {
    const shown = target.length > 80 ? `${target.slice(0, 80)}...` : target;
    if (image) {
      const m = /^data:image\/png;base64,([A-Za-z0-9+/=]+)$/.exec(target);
      if (m) {
        if (!Buffer.from(m[1], 'base64').subarray(0, 8).equals(PNG_SIGNATURE)) problems.push(`an image's data: URL is not a PNG: ${shown}`);
      } else if (!/^https:\/\/[^/\s]+\/\S+$/.test(target)) problems.push(`an image that will not load (only https: and data: images load): ${shown}`);
    } else if (!/^(https:\/\/[^/\s]+(\/\S*)?|mailto:\S+)$/.test(target)) {
      problems.push(`a link that will not open (only https and mailto links do): ${shown}`);
    }
  }
  return problems;
}

/** The README with each image given by a relative path (a PNG in the repository, read with
 *  `read`) replaced by a data: URL of that file. */
export function inlineImages(text, read) {
  return text.replace(/(!\[(?:[^\]\[]|\[[^\]]*\])*\]\(\s*)([^)\s:]+\.png)(\s*(?:"[^"]*")?\s*\))/g, (_, open, path, close) => {
    const png = read(path);
    if (!png.subarray(0, 8).equals(PNG_SIGNATURE)) throw new Error(`${path} is not a PNG`);
    return `${open}data:image/png;base64,${png.toString('base64')}${close}`;
  });
}
