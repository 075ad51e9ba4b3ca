// The rows measured as whole CLI processes: the netperf seed run end to end (wall time, as a user
// waits for it) and the peak RSS of runs of different lengths.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
const probe = fileURLToPath(new URL('./rss_probe.cjs', import.meta.url));

/** Runs `node dist/cli.js run FILE` once on `text`; its wall time (ms, spawn included) and peak RSS (bytes; rss_probe.cjs). */
function runCli(text) {
  const dir = mkdtempSync(join(tmpdir(), 'mmu-lab-bench-'));
  try {
    const file = join(dir, 'bench.mmio.yaml');
    const rssFile = join(dir, 'rss.json');
    writeFileSync(file, text);
    const t0 = performance.now();
    const p = spawnSync(process.execPath, ['-r', probe, join(root, 'dist/cli.js'), 'run', file], {
      encoding: 'utf8', env: { ...process.env, BENCH_RSS_FILE: rssFile }, maxBuffer: 1 << 26,
    });
    const wallMs = performance.now() - t0;
    if (p.status !== 0) throw new Error(`mmu-lab run exited with ${p.status}: ${p.stderr}${p.stdout.slice(0, 2000)}`);
    const { maxRSS, source } = JSON.parse(readFileSync(rssFile, 'utf8'));
    return { wallMs, maxRSS, rssSource: source, stdout: p.stdout };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * examples/seed/netperf-tcp-rr.mmio.yaml with its transaction repeat raised to `transactions`; its
 * `expect:` (counts for 2000 transactions) is left out. `run` runs the file's own settings (v3.1, EPT),
 * not its compare: variants.
 */
export function netperf(transactions) {
  const seed = readFileSync(join(root, 'examples/seed/netperf-tcp-rr.mmio.yaml'), 'utf8');
  const raised = seed.replace(/^  - repeat: 2000$/m, `  - repeat: ${transactions}`);
  if (raised === seed) throw new Error('netperf seed: its `repeat: 2000` was not found');
  const text = raised.slice(0, raised.indexOf('\nexpect:') + 1);
  const r = runCli(text);
  if (!r.stdout.includes(`transaction`)) throw new Error('netperf run: no transaction label in the report');
  return { transactions, wallMs: r.wallMs, transactionsPerSecond: transactions / (r.wallMs / 1000), maxRSS: r.maxRSS, rssSource: r.rssSource };
}

/** Peak RSS of a CLI run of `steps` non-exiting RAM reads (EPT, v3.1). */
export function rssOfLoop(steps) {
  const text = `kernel: v3.1
memslots:
  - { slot: 0, gpa: 0x0, size: 64M }
guest:
  mappings:
    - { gva: 0xffff880000000000, gpa: 0x0, size: 64M, page: 2M, flags: "p w a d nx" }
workload:
  - repeat: ${steps}
    steps:
      - { read: 0xffff880000100000, size: 8 }
`;
  const r = runCli(text);
  return { steps, wallMs: r.wallMs, maxRSS: r.maxRSS, rssSource: r.rssSource };
}
