// The extension's packaging, without packaging: package.json's manifest is consistent (entries,
// engines against @types/vscode, icon, license, contributions), .vscodeignore ships exactly what
// runs (scripts/vsix_contents.mjs's list), and, when `npm run package` has written the .vsix, its
// file list and size pass the same checks as scripts/package.mjs.

import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ALLOWED, REQUIRED, USER_README, inlineImages, markdownTargets, readmeProblems, vsixProblems, zipEntries, zipText } from '../scripts/vsix_contents.mjs';
import { DOCS } from '../shared/docs';

// npm's own range logic (semver is in the installed tree through several dev dependencies).
const semver = createRequire(import.meta.url)('semver') as { subset(sub: string, dom: string): boolean; satisfies(v: string, range: string): boolean };

interface Command {
  command: string;
  title: string;
  category?: string;
}
const pkg = JSON.parse(readFileSync('package.json', 'utf8'));
const commands: Command[] = pkg.contributes.commands;
const extensionSources = readdirSync('extension')
  .filter((f) => f.endsWith('.ts'))
  .map((f) => readFileSync(join('extension', f), 'utf8'))
  .join('\n');

/** .vscodeignore's patterns (comments and blank lines dropped). */
const ignore = readFileSync('.vscodeignore', 'utf8')
  .split(/\r?\n/)
  .map((l) => l.trim())
  .filter((l) => l !== '' && !l.startsWith('#'));
const reincluded = ignore.filter((l) => l.startsWith('!')).map((l) => l.slice(1));

/** A .vscodeignore glob as a RegExp (the subset used: `**`, `*`, literal names). */
function globRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*' && glob[i + 1] === '*') {
      const slash = glob[i + 2] === '/';
      re += slash ? '(?:.*/)?' : '.*';
      i += slash ? 2 : 1;
    } else if (c === '*') re += '[^/]*';
    else re += c.replace(/[.+?^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}
const shipped = (file: string) => reincluded.some((g) => globRegExp(g).test(file));

/** The repository's files as vsce sees them (no node_modules: the package has no dependencies;
 *  symbolic links to folders are not followed). */
function repoFiles(dir = '.'): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    if (e.name === 'node_modules' || e.name === '.git') return [];
    const p = dir === '.' ? e.name : `${dir}/${e.name}`;
    return e.isDirectory() ? repoFiles(p) : [p];
  });
}

/** A repository file's name in the .vsix (below extension/). */
const vsixName = (f: string) => (f === 'dist/readme.md' ? 'readme.md' : f === 'LICENSE' ? 'LICENSE.txt' : f === 'CHANGELOG.md' ? 'changelog.md' : f);
const repoName = (f: string) => (f === 'readme.md' ? 'dist/readme.md' : f === 'LICENSE.txt' ? 'LICENSE' : f);

describe('package.json', () => {
  it('identity and metadata', () => {
    expect(pkg).toMatchObject({ name: 'mmu-lab', publisher: 'mmu-lab', displayName: 'MMU Lab', license: 'MIT' });
    expect(pkg.description.length).toBeGreaterThan(40);
    expect(pkg.categories.length).toBeGreaterThan(0);
    expect(pkg.keywords.length).toBeGreaterThan(0);
    expect(pkg.keywords.length).toBeLessThanOrEqual(30); // the Marketplace's limit
    expect(pkg.version).toMatch(/^\d+\.\d+\.\d+$/);
    const license = readFileSync('LICENSE', 'utf8');
    expect(license).toMatch(/^MIT License/);
    expect(license).toContain('Copyright (c) 2026 The MMU Lab authors');
    // vsce refuses a package that has both a `files` list and a .vscodeignore.
    expect(pkg.files).toBeUndefined();
    expect(pkg.scripts.package).toBe('npm run build && node scripts/package.mjs');
  });

  it('engines.vscode is 1.91 (the oldest workbench tested) and @types/vscode is no newer', () => {
    expect(pkg.engines.vscode).toBe('^1.91.0');
    expect(pkg.devDependencies['@types/vscode']).toMatch(/^[~^]?1\.91\.\d+$/);
    const installed = JSON.parse(readFileSync('node_modules/@types/vscode/package.json', 'utf8')).version as string;
    expect(installed).toMatch(/^1\.91\.\d+$/);
  });

  it('main and browser are the bundles scripts/build.mjs writes', () => {
    expect(pkg.main).toBe('./dist/extension.js');
    expect(pkg.browser).toBe('./dist/extension-web.js');
    const build = readFileSync('scripts/build.mjs', 'utf8');
    for (const f of ['dist/extension.js', 'dist/extension-web.js', 'dist/worker.js', 'dist/worker-web.js']) expect(build).toContain(`outfile: '${f}'`);
    // That they are built for the browser is checked on the bundles themselves (below).
  });

  it('the icon is a 128x128 PNG, made from images/icon.svg', () => {
    expect(pkg.icon).toBe('images/icon.png');
    const png = readFileSync(pkg.icon);
    expect(png.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
    expect(png.toString('latin1', 12, 16)).toBe('IHDR');
    expect([png.readUInt32BE(16), png.readUInt32BE(20)]).toEqual([128, 128]);
    expect(existsSync('images/icon.svg')).toBe(true);
  });

  it('runs in untrusted and virtual workspaces', () => {
    expect(pkg.capabilities).toEqual({ untrustedWorkspaces: { supported: true }, virtualWorkspaces: true });
  });

  it('activation events are specific, and name what the extension has', () => {
    expect(pkg.activationEvents).not.toContain('*');
    for (const e of pkg.activationEvents as string[]) expect(e).toMatch(/^(onLanguage|workspaceContains|onWebviewPanel|onCommand|onFileSystem|onView):./);
    for (const e of (pkg.activationEvents as string[]).filter((a) => a.startsWith('onWebviewPanel:'))) {
      expect(extensionSources).toContain(`'${e.slice('onWebviewPanel:'.length)}'`);
    }
  });

  it('every command has the category "MMU Lab", a title, and is registered by the extension', () => {
    expect(commands.length).toBeGreaterThan(0);
    for (const c of commands) {
      expect(c.category, c.command).toBe('MMU Lab');
      expect(c.title.length, c.command).toBeGreaterThan(0);
      expect(c.command).toMatch(/^mmuLab\.[a-zA-Z]+$/);
      expect(extensionSources, c.command).toContain(`registerCommand('${c.command}'`);
    }
    expect(new Set(commands.map((c) => c.command)).size).toBe(commands.length);
  });

  it('menus name contributed commands only', () => {
    const ids = new Set(commands.map((c) => c.command));
    for (const [menu, items] of Object.entries(pkg.contributes.menus as Record<string, { command: string }[]>)) {
      for (const i of items) expect(ids.has(i.command), `${menu}: ${i.command}`).toBe(true);
    }
  });

  it('contributed files exist and ship', () => {
    const files = [
      ...(pkg.contributes.snippets as { path: string }[]).map((s) => s.path),
      ...(pkg.contributes.jsonValidation as { url: string }[]).map((v) => v.url),
    ].map((f) => f.replace(/^\.\//, ''));
    for (const f of files) {
      expect(existsSync(f), f).toBe(true);
      expect(shipped(f), f).toBe(true);
    }
  });
});

describe('the Node.js version', () => {
  // `npm ci` warns EBADENGINE for a package whose engines.node refuses the running Node; stating a
  // range every installed package accepts keeps README, package.json and the tree in agreement.
  const lock = JSON.parse(readFileSync('package-lock.json', 'utf8')) as { packages: Record<string, { version?: string; engines?: { node?: string } | string[] }> };
  const stated = pkg.engines.node as string;

  it('every package in the lock file that names engines.node accepts the range package.json states', () => {
    const refusing = Object.entries(lock.packages)
      .filter(([path, p]) => path !== '' && !Array.isArray(p.engines) && typeof p.engines?.node === 'string' && !semver.subset(stated, p.engines.node))
      .map(([path, p]) => `${path}@${p.version}: ${(p.engines as { node: string }).node}`);
    expect(refusing).toEqual([]);
    expect((lock.packages['']!.engines as { node: string }).node).toBe(stated);
  });

  it('the Node.js running the tests is in that range, and the README states it', () => {
    expect(semver.satisfies(process.version, stated)).toBe(true);
    expect(readFileSync('README.md', 'utf8')).toContain(`\`engines.node\`: \`${stated}\``);
  });
});

describe('the user README (the extension\'s Details page)', () => {
  const source = readFileSync(USER_README, 'utf8');

  it('is not the developer README: how to start, the commands and settings, where the format is documented', () => {
    expect(source).not.toMatch(/npm (ci|test|run)\b/);
    for (const c of commands) expect(source, c.command).toContain(`${c.category}: ${c.title}`);
    for (const key of Object.keys(pkg.contributes.configuration.properties)) expect(source, key).toContain(key);
  });

  it('once packaged, its images are PNG data: URLs and its links absolute https (the Details page loads nothing else)', () => {
    const images = markdownTargets(source).filter((t) => t.image);
    expect(images.length).toBeGreaterThan(0);
    for (const i of images) expect(existsSync(i.target), i.target).toBe(true);
    expect(readmeProblems(inlineImages(source, (f: string) => readFileSync(f)))).toEqual([]);
  });

  it('the rules catch a relative link, a relative image, and http', () => {
    expect(readmeProblems('![a](docs/images/x.png) [b](docs/extension.md) [c](http://example.com/)')).toEqual([
      'an image that will not load (only https: and data: images load): docs/images/x.png',
      'a link that will not open (only https and mailto links do): docs/extension.md',
      'a link that will not open (only https and mailto links do): http://example.com/',
    ]);
    expect(readmeProblems('[a](https://elixir.bootlin.com/linux/v3.1.10/source)')).toEqual(['no image: the Details page should show the panel']);
  });

  it('the settings, commands and the scenario schema point to no document the package does not ship', () => {
    const text = JSON.stringify(pkg.contributes) + readFileSync('schemas/mmio-scenario.schema.json', 'utf8');
    const named = [...new Set([...text.matchAll(/docs\/[\w-]+\.md/g)].map((m) => m[0]))];
    expect(named.filter((f) => !shipped(f))).toEqual([]);
  });

  it('the reference documents the panel and the commands open exist and ship', () => {
    for (const d of Object.values(DOCS)) {
      expect(existsSync(d.file), d.file).toBe(true);
      expect(shipped(d.file), d.file).toBe(true);
      expect(REQUIRED, d.file).toContain(d.file);
    }
  });
});

describe('editing help for *.mmio.yaml', () => {
  // The extension's own hover, completion and diagnostics cover scenario YAML (docs/decisions.md,
  // "Editing help"): nothing hands the schema to the Red Hat YAML extension, which would show each
  // hover, completion and problem a second time, and nothing asks for that extension.
  it('gives the YAML extension no schema and does not depend on it', () => {
    expect(pkg.contributes.yamlValidation).toBeUndefined();
    expect(pkg.extensionDependencies).toBeUndefined();
    expect(pkg.extensionPack).toBeUndefined();
    expect((pkg.contributes.jsonValidation as { fileMatch: string }[]).map((v) => v.fileMatch)).toEqual(['*.mmio.json']);
  });
});

describe('.vscodeignore', () => {
  it('leaves everything out, then takes back in file by file', () => {
    expect(ignore[0]).toBe('**');
    expect(ignore.slice(1).every((l) => l.startsWith('!'))).toBe(true);
  });

  it('ships main, browser, their workers, the panel and everything the package must hold', () => {
    for (const f of [pkg.main, pkg.browser, pkg.icon].map((p: string) => p.replace(/^\.\//, ''))) expect(shipped(f), f).toBe(true);
    for (const f of REQUIRED.map(repoName)) expect(shipped(f), f).toBe(true);
  });

  it('takes back nothing the package may not hold: sources, tests, maps, the CLI, configuration', () => {
    const files = repoFiles();
    const taken = files.filter(shipped);
    const notAllowed = taken.filter((f) => !ALLOWED.some((re) => re.test(vsixName(f))));
    expect(notAllowed).toEqual([]);
    for (const f of ['extension/extension.ts', 'simulator/index.ts', 'tsconfig.json', 'tsconfig.extension.json', '.vscode/launch.json', 'dist/cli.js', 'dist/sim.mjs', 'dist/compare-worker.js', 'dist/extension.js.map', 'dist/worker-web.js.map', 'docs/extension.md', 'README.md', 'README.user.md', 'docs/images/panel-beside-scenario.png', 'docs/kernel-paths.md', 'images/icon.svg', 'scripts/build.mjs', 'test/package.test.ts', 'test-artifacts/x.png', 'package-lock.json', '.vscodeignore']) {
      expect(shipped(f), f).toBe(false);
    }
  });
});

const vsix = `${pkg.name}-${pkg.version}.vsix`;

describe.runIf(existsSync(vsix))(`the built ${vsix}`, () => {
  it('holds only what runs, everything that must be there, and is small', () => {
    const entries = zipEntries(vsix);
    expect(vsixProblems(entries, statSync(vsix).size)).toEqual([]);
    expect(entries.some((e) => e.name.endsWith('.map'))).toBe(false);
    // Every example "New MMIO Scenario" offers is there.
    const examples = repoFiles('examples').filter((f) => f.endsWith('.mmio.yaml'));
    for (const f of examples) expect(entries.map((e) => e.name)).toContain(`extension/${f}`);
  });

  it('its README is the user README, with its images inline and only https links', () => {
    const readme = zipText(vsix, 'extension/readme.md');
    expect(readme).toBe(inlineImages(readFileSync(USER_README, 'utf8'), (f: string) => readFileSync(f)));
    expect(readmeProblems(readme!)).toEqual([]);
  });
});

describe.runIf(existsSync('dist/extension-web.js') && existsSync('dist/worker-web.js'))('the browser bundles', () => {
  it('require nothing but vscode (the extension) and nothing at all (the worker)', () => {
    const requires = (f: string) => [...new Set(readFileSync(f, 'utf8').match(/\brequire\(["'][^"']+["']\)/g) ?? [])];
    expect(requires('dist/extension-web.js')).toEqual(['require("vscode")']);
    expect(requires('dist/worker-web.js')).toEqual([]);
  });
});
