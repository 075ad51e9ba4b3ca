// The command-line runner as a user calls it (the bundle `npm run build` writes to dist/cli.js).
import { describe, it, expect, beforeAll } from 'vitest';
import { spawnSync, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { scenario } from './helpers/scenario';
import { compareScenario } from '../simulator/run/compare';
import { kernelVariants } from '../simulator/run/kernel_variants';

const cli = (...args: string[]) => spawnSync(process.execPath, ['dist/cli.js', ...args], { encoding: 'utf8', maxBuffer: 1 << 26 });
let dir = '';

beforeAll(() => {
  if (!existsSync('dist/cli.js')) execFileSync('npm', ['run', 'build'], { stdio: 'ignore' });
  dir = mkdtempSync(join(tmpdir(), 'mmu-lab-'));
});

describe('mmu-lab run', () => {
  it('never sends a scenario\'s control characters or bidi overrides raw to the terminal', () => {
    // A name with an ANSI colour sequence and a right-to-left override, and an unknown key with ESC.
    const f = join(dir, 'hostile.mmio.yaml');
    const body = 'kernel: v3.1\nmemslots:\n  - { slot: 0, gpa: 0x0, size: 64M }\nguest:\n  mappings:\n    - { gva: 0xffff880000000000, gpa: 0x0, size: 64M, page: 2M, flags: "p w a d" }\nworkload:\n  - { compute: 10 }\n';
    writeFileSync(f, `name: "evil \\e[31mRED\\e[0m \\u202egnp.exe"\n${body}`);
    const p = cli('run', f);
    expect(p.status).toBe(0);
    expect(p.stdout).toContain('evil \\x1b[31mRED\\x1b[0m \\u202egnp.exe');
    expect(p.stdout).not.toMatch(/[\u001b\u202e]/);
    writeFileSync(f, `"bad\\ekey": 1\n${body}`);
    const q = cli('run', f);
    expect(q.status).toBe(2);
    expect(q.stderr).toContain('\\x1b');
    expect(q.stderr).not.toMatch(/\u001b/);
  });

  it('prints the perf kvm stat table and exits 0 when every expectation holds', () => {
    const p = cli('run', 'examples/doorbell.mmio.yaml');
    expect(p.status).toBe(0);
    expect(p.stdout).toContain('             VM-EXIT    Samples  Samples%     Time%    Min Time    Max Time         Avg time ');
    expect(p.stdout).toMatch(/^ {7}EPT_MISCONFIG {8}999 /m);
  });

  it('--json prints one object per file, in order, with 64-bit values as hex strings', () => {
    const p = cli('run', 'examples/doorbell.mmio.yaml', 'examples/apic-eoi.mmio.yaml', '--json');
    expect(p.status).toBe(0);
    const lines = p.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.map((r) => r.name)).toEqual(['Doorbell writes to an emulated NIC', 'Local APIC EOI loop (in-kernel device)']);
    const r = lines[0];
    for (const k of ['kernel', 'tdp', 'exits', 'faults', 'stats', 'cycles', 'labels', 'expect', 'guest_page_tables']) expect(r).toHaveProperty(k);
    for (const k of ['exits', 'pf_fixed', 'pf_guest', 'mmio_exits', 'insn_emulation', 'memslot_lookups', 'memslot_compares', 'guest_walks', 'mmio_sptes_created', 'mmu_shadow_zapped']) expect(r.stats).toHaveProperty(k);
    expect(r.cycles.total).toBeGreaterThan(0);
    expect(r.labels.transaction.count).toBe(1000);
    expect(r.guest_page_tables[1].entries.at(-1).value).toBe('0x80000000febf0073'); // NX | gfn | D A PCD W P
  });

  it('--kernel overrides the scenario; expectations written for v3.1 then fail with status 1', () => {
    const p = cli('run', 'examples/doorbell.mmio.yaml', '--kernel', 'v3.0', '--json');
    expect(p.status).toBe(1);
    const r = JSON.parse(p.stdout);
    expect(r.kernel).toBe('v3.0');
    expect(r.expect.find((e: { path: string }) => e.path === 'exits.EPT_MISCONFIG')).toMatchObject({ ok: false, actual: 0 });
  });

  it('--folded prints folded stacks (root-most frame first, integer counts) summing to the run total', () => {
    const p = cli('run', 'examples/doorbell.mmio.yaml', '--folded');
    expect(p.status).toBe(0);
    const lines = p.stdout.trim().split('\n');
    // frames may hold a space ([guest memory]): flamegraph.pl takes the count after the last one
    for (const l of lines) expect(l).toMatch(/^[^;]+(;[^;]+)* [1-9]\d*$/);
    const total = JSON.parse(cli('run', 'examples/doorbell.mmio.yaml', '--json').stdout).cycles.total;
    expect(lines.reduce((s, l) => s + Number(l.split(' ').at(-1)), 0)).toBe(Math.round(total));
    // 3.1.10 vmx.c handle_ept_misconfig -> mmu.c handle_mmio_page_fault_common -> quickly_check_mmio_pf
    expect(lines.some((l) => l.startsWith('vcpu_enter_guest;vmx_handle_exit;handle_ept_misconfig;handle_mmio_page_fault_common;quickly_check_mmio_pf;vcpu_match_mmio_gpa '))).toBe(true);
    expect(lines.some((l) => l.startsWith('guest '))).toBe(true);
  });

  it('--call-paths adds the flame graphs to --json; without it the report has none and is otherwise the same', () => {
    const plain = cli('run', 'examples/doorbell.mmio.yaml', '--json');
    const withPaths = cli('run', 'examples/doorbell.mmio.yaml', '--json', '--call-paths');
    expect(plain.status).toBe(0);
    expect(withPaths.status).toBe(0);
    const a = JSON.parse(plain.stdout);
    const b = JSON.parse(withPaths.stdout);
    expect(a.flame).toBeUndefined();
    expect(b.flame.all.nodes[0].total).toBe(b.cycles.total);
    delete b.flame;
    expect(b).toEqual(a);
  });

  it('override flags are checked as a compare: variant is: an impossible setting is an error, exit 2, nothing run', () => {
    // 3.1.10 vmx.c has no bypass_guest_pf (removed by the MMIO series); 3.0.1 vmx.c:4673
    // `bypass_guest_pf = 0;` when EPT is enabled.
    const v31 = cli('run', 'examples/doorbell.mmio.yaml', '--bypass-guest-pf', 'on');
    expect(v31.status).toBe(2);
    expect(v31.stdout).toBe('');
    expect(v31.stderr).toBe(
      'examples/doorbell.mmio.yaml: error: with --bypass-guest-pf on: mmu.bypass_guest_pf: true is not possible: kernel v3.1 no longer has it (the 2011 MMIO series removed it; use kernel: v3.0), and VMX forces it off when EPT is in use (tdp: true; use tdp: false)\n',
    );
    const ept30 = cli('run', 'examples/doorbell.mmio.yaml', '--kernel', 'v3.0', '--bypass-guest-pf', 'on');
    expect(ept30.status).toBe(2);
    expect(ept30.stderr).toContain('with --kernel v3.0 --bypass-guest-pf on: mmu.bypass_guest_pf: true is not possible: VMX forces it off when EPT is in use');
    // A file that asks for bypass_guest_pf keeps asking under --kernel v3.1 or --tdp on.
    const f = join(dir, 'bypass-on.mmio.yaml');
    writeFileSync(f, readFileSync('examples/bypass-guest-pf.mmio.yaml', 'utf8').replace('mmu: { tdp: false }', 'mmu: { tdp: false, bypass_guest_pf: true }'));
    expect(cli('run', f).status).toBe(0);
    for (const flags of [['--kernel', 'v3.1'], ['--tdp', 'on']]) {
      const p = cli('run', f, ...flags);
      expect(p.status).toBe(2);
      expect(p.stderr).toContain(`with ${flags.join(' ')}: mmu.bypass_guest_pf: true is not possible`);
    }
    // ... and runs when the flags also turn it off.
    expect(cli('run', f, '--kernel', 'v3.1', '--bypass-guest-pf', 'off').stderr).toBe('');
  });

  it('the text report states every setting the run used, as its kernel has it', () => {
    const p = cli('run', 'examples/bypass-guest-pf.mmio.yaml', '--bypass-guest-pf', 'off');
    expect(p.stdout.split('\n').slice(1, 3)).toEqual([
      'kernel v3.0 · shadow paging · mmio_caching on (no MMIO SPTEs in v3.0) · oos_shadow on · bypass_guest_pf off · vpid on',
      expect.stringMatching(/^profile westmere-2011 \(2\.93 GHz\) · maxphyaddr \d+ · 1 vCPU · \d+ memslots?$/),
    ]);
  });

  it('--folded and --json together are bad input: one message, usage, exit 2', () => {
    const p = cli('run', 'examples/doorbell.mmio.yaml', '--folded', '--json');
    expect(p.status).toBe(2);
    expect(p.stderr).toMatch(/^--json and --folded cannot be combined\nusage: mmu-lab run/);
    expect(p.stdout).toBe('');
  });

  it('--accesses lists every access with its value', () => {
    const p = cli('run', 'examples/memslot-over-mmio.mmio.yaml', '--json', '--accesses');
    const r = JSON.parse(p.stdout);
    expect(r.accesses[0]).toMatchObject({ op: 'read', result: 'ok', value: '0xaa55', gva: '0xffffc90000100000', cpl: 0 });
    expect(r.accesses.at(-1)).toMatchObject({ op: 'read', value: '0x1122334455667788' });
  });

  it('bad input: file:line:col on stderr, exit status 2, nothing run; the worst status wins', () => {
    const bad = join(dir, 'bad.mmio.yaml');
    writeFileSync(bad, 'memslots:\n  - { slot: 0, gpa: 0x0, size: 0x1800 }\nguest: { mappings: [] }\nworkload:\n  - { compute: 1 }\n');
    const p = cli('run', 'examples/doorbell.mmio.yaml', bad, '--json');
    expect(p.status).toBe(2);
    expect(p.stderr).toMatch(/bad\.mmio\.yaml:2:\d+: error: .*size/);
    expect(p.stdout.trim().split('\n')).toHaveLength(1);
  });

  it('--trace adds the last events, named after KVM tracepoints', () => {
    const r = JSON.parse(cli('run', 'examples/doorbell.mmio.yaml', '--json').stdout);
    expect(r.trace.events).toEqual([]);
    expect(r.trace.total).toBeGreaterThan(0);
    const t = JSON.parse(cli('run', 'examples/alternating-pages.mmio.yaml', '--json', '--trace').stdout);
    const names = new Set(t.trace.events.map((e: { name: string }) => e.name));
    for (const n of ['kvm_exit', 'kvm_entry', 'handle_mmio_page_fault', 'kvm_emulate_insn', 'vcpu_match_mmio', 'kvm_mmio', 'kvm_mmu_pagetable_walk']) expect(names.has(n)).toBe(true);
  });

  it('--trace-cmd prints the trace buffer as trace-cmd report text instead of the report', () => {
    const p = cli('run', 'examples/race-zap-during-walk.mmio.yaml', '--kernel', 'v3.1', '--trace-cmd');
    expect(p.status).toBe(0);
    const lines = p.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^# mmu-lab v3\.1: 0 earlier events dropped by the trace buffer; \d+ kept$/);
    expect(lines[1]).toBe('cpus=2');
    expect(p.stdout).not.toContain('VM-EXIT'); // no perf kvm stat table
    // pevent_print_event: "%16s-%-5d [%03d] %5lu.%06lu: %s: ", the name padded to 20 (trace-cmd parse-events.c)
    for (const l of lines.slice(2)) expect(l).toMatch(/^ {8}qemu-kvm-100[01]  \[00[01]\] {5}\d\.\d{6}: [a-z_]+: /);
    expect(lines.some((l) => / kvm_exit: {13}reason EPT_(VIOLATION|MISCONFIG) rip 0xffffffff81000/.test(l))).toBe(true);
    expect(lines.some((l) => / mark_mmio_spte: {7}sptep:0xffff8800[0-9a-f]{8} gfn [0-9a-f]+ access [0-9a-f]+$/.test(l))).toBe(true);
    expect(p.stdout).not.toContain('__direct_map');
    expect(p.stdout).not.toContain('vcpu_switch');
    // (The race example waits on the lockless walk, which 3.0.1 lacks: a plain run refuses it there.)
    const v30 = cli('run', 'examples/alternating-pages.mmio.yaml', '--kernel', 'v3.0', '--trace-cmd');
    expect(v30.status).toBe(1); // the example's expectations are v3.1's
    expect(v30.stdout).toContain(' kvm_exit: ');
    expect(v30.stdout).not.toContain('mark_mmio_spte');
    expect(v30.stdout).not.toContain('handle_mmio_page_fault');
  });

  it("--trace-cmd -e selects events like trace-cmd: -e 'kvmmmu:*', -e kvm:kvm_exit, several add up", () => {
    const names = (...e: string[]) => {
      const p = cli('run', 'examples/race-zap-during-walk.mmio.yaml', '--kernel', 'v3.1', '--trace-cmd', ...e);
      expect(p.status).toBe(0);
      return new Set(p.stdout.trimEnd().split('\n').slice(2).map((l) => /: ([a-z_]+): /.exec(l)![1]));
    };
    const mmu = names('-e', 'kvmmmu:*');
    expect(mmu.has('mark_mmio_spte')).toBe(true);
    expect(mmu.has('kvm_exit')).toBe(false);
    expect([...names('-e', 'kvm:kvm_exit')]).toEqual(['kvm_exit']);
    expect([...names('-e', 'kvm:kvm_exit', '-e', 'kvm_entry')].sort()).toEqual(['kvm_entry', 'kvm_exit']);
    const kvm = names('-e', 'kvm');
    expect(kvm.has('kvm_mmio') && kvm.has('kvm_exit') && !kvm.has('mark_mmio_spte')).toBe(true);
  });

  it('--trace-cmd with an unknown -e: one message naming the valid events, usage, exit 2, nothing run', () => {
    const p = cli('run', 'examples/doorbell.mmio.yaml', '--trace-cmd', '-e', 'kvm:kvm_nope');
    expect(p.status).toBe(2);
    expect(p.stdout).toBe('');
    expect(p.stderr).toContain("unknown event 'kvm:kvm_nope' for -e; valid systems: kvm, kvmmmu; valid events: ");
    expect(p.stderr).toContain('kvmmmu:mark_mmio_spte');
    expect(p.stderr).toContain('usage: mmu-lab run');
    expect(cli('run', 'examples/doorbell.mmio.yaml', '--trace-cmd', '-e').status).toBe(2);
    expect(cli('run', 'examples/doorbell.mmio.yaml', '-e', 'kvm').stderr).toContain('-e selects events for --trace-cmd');
    expect(cli('run', 'examples/doorbell.mmio.yaml', '--trace-cmd', '--json').status).toBe(2);
  });

  it('usage errors exit 2', () => {
    expect(cli().status).toBe(2);
    expect(cli('run', 'examples/doorbell.mmio.yaml', '--kernel', 'v9').status).toBe(2);
    expect(cli('run', 'nonexistent.mmio.yaml').stderr).toContain('cannot read');
  });

  it('--no-fast-paths: the same JSON report, byte for byte (trace and accesses included)', () => {
    const args = ['run', 'examples/shadow-doorbell.mmio.yaml', '--json', '--accesses', '--trace', '--call-paths'];
    const fast = cli(...args);
    const slow = cli(...args, '--no-fast-paths');
    expect(fast.status).toBe(0);
    expect(slow.status).toBe(0);
    expect(JSON.parse(fast.stdout).trace.events.length).toBeGreaterThan(0);
    expect(slow.stdout).toBe(fast.stdout);
  });
});

// Compare Kernels from the command line: `compare FILE [--kernels ...] [--tdp ...]`.
describe('mmu-lab compare --kernels/--tdp', () => {
  const labels = (stdout: string) => JSON.parse(stdout).variants.map((v: { label: string }) => v.label);

  it('default without a compare: section: every modelled kernel in the scenario\'s own MMU mode, with the notes', () => {
    const p = cli('compare', 'examples/doorbell.mmio.yaml', '--json');
    expect(p.status).toBe(0);
    const c = JSON.parse(p.stdout);
    expect(c.variants.map((v: { label: string }) => v.label)).toEqual(['v3.0 EPT', 'v3.1 EPT']);
    expect(c.variants.map((v: { settings: { kernel: string } }) => v.settings.kernel)).toEqual(['v3.0', 'v3.1']);
    // 3.0.1 has no MMIO SPTE (3.1.10 mmu.c:199 `static u64 __read_mostly shadow_mmio_mask;`): the doorbell's
    // mmio_caching: true is off there, and said so.
    expect(c.variants[0].notes).toEqual([expect.stringContaining('mmu.mmio_caching: true off: v3.0 (3.0.1) has no MMIO SPTEs')]);
    expect(c.variants[1].notes).toEqual([]);
    // The worker threads rebuilt the same variant list: exactly what running them in turn gives.
    const sc = scenario(readFileSync('examples/doorbell.mmio.yaml', 'utf8'), 'examples/doorbell.mmio.yaml');
    expect(c).toEqual(JSON.parse(JSON.stringify(compareScenario(sc, kernelVariants(sc, ['v3.0', 'v3.1'], [true])))));
    const text = cli('compare', 'examples/shadow-doorbell.mmio.yaml');
    expect(text.status).toBe(0);
    expect(text.stdout).toMatch(/^ +v3\.0 shadow +v3\.1 shadow$/m);
    expect(text.stdout).toContain('note (v3.0 shadow): mmu.mmio_caching: true off');
  }, 60_000);

  it('--kernels and --tdp choose the variants, kernels outer, and replace the file\'s compare: list', () => {
    expect(labels(cli('compare', 'examples/doorbell.mmio.yaml', '--kernels', 'v3.1', '--tdp', 'on,off', '--json').stdout)).toEqual(['v3.1 EPT', 'v3.1 shadow']);
    expect(labels(cli('compare', 'examples/doorbell.mmio.yaml', '--kernels', 'v3.1,v3.0', '--json').stdout)).toEqual(['v3.1 EPT', 'v3.0 EPT']);
    expect(labels(cli('compare', 'examples/memslot-sweep.mmio.yaml', '--tdp', 'off', '--json').stdout)).toEqual(['v3.0 shadow', 'v3.1 shadow']);
    // Without flags the file's own compare: list stays.
    expect(labels(cli('compare', 'examples/memslot-sweep.mmio.yaml', '--json').stdout)[0]).toBe('v3.0, 1 slot');
  }, 60_000);

  it('bypass_guest_pf of the bypass example is dropped under v3.1 and forced off with EPT, each with its note', () => {
    const bad = join(dir, 'bypass.mmio.yaml');
    writeFileSync(bad, readFileSync('examples/bypass-guest-pf.mmio.yaml', 'utf8').replace('mmu: { tdp: false }', 'mmu: { tdp: false, bypass_guest_pf: true }'));
    const p = cli('compare', bad, '--tdp', 'off,on', '--json');
    expect(p.status).toBe(0);
    const c = JSON.parse(p.stdout);
    const by = (l: string) => c.variants.find((v: { label: string }) => v.label === l);
    expect(by('v3.0 shadow').settings.bypass_guest_pf).toBe(true);
    expect(by('v3.0 EPT').settings.bypass_guest_pf).toBe(false);
    expect(by('v3.1 shadow').settings.bypass_guest_pf).toBe(false);
    expect(by('v3.1 shadow').notes).toContain('mmu.bypass_guest_pf: true dropped: v3.1 (3.1.10) has no bypass_guest_pf (3.0.1 vmx.c:50 `static int __read_mostly bypass_guest_pf = 1;`): the 2011 MMIO series removed it from vmx.c');
    expect(by('v3.0 EPT').notes.join('\n')).toContain('`if (enable_ept) { bypass_guest_pf = 0;`');
  }, 60_000);

  it('runs on every bundled example: exit 0, one column per kernel in the file\'s MMU mode (the file\'s compare: list where it has one)', () => {
    const files = readdirSync('examples').filter((f) => f.endsWith('.mmio.yaml'));
    expect(files.length).toBeGreaterThanOrEqual(9);
    for (const f of files) {
      const p = cli('compare', `examples/${f}`, '--kernels', 'v3.0,v3.1', '--json');
      expect(p.status, `${f}: ${p.stderr}`).toBe(0);
      // The file's own MMU mode (its top-level `mmu:`), not a compare variant's.
      const mode = scenario(readFileSync(`examples/${f}`, 'utf8'), f).mmu.tdp ? 'EPT' : 'shadow';
      expect(labels(p.stdout), f).toEqual([`v3.0 ${mode}`, `v3.1 ${mode}`]);
    }
  }, 120_000);

  it('bad values: one message, the usage, exit 2, nothing run', () => {
    for (const args of [['--kernels', 'v9'], ['--kernels', 'v3.0,v3.0'], ['--kernels'], ['--kernels', ''], ['--tdp', 'maybe'], ['--tdp'], ['--tdp', 'on,on'], ['--kernel', 'v3.0']]) {
      const p = cli('compare', 'examples/doorbell.mmio.yaml', ...args);
      expect(p.status, args.join(' ')).toBe(2);
      expect(p.stdout).toBe('');
      const flag = args[0] === '--kernel' ? 'unknown option --kernel' : args[0] === '--kernels' ? '--kernels takes a comma-separated list of v3.0, v3.1 (each once)' : '--tdp takes on, off, or on,off';
      expect(p.stderr.split('\n')[0]).toBe(flag);
      expect(p.stderr).toContain('mmu-lab compare FILE [--kernels v3.0,v3.1] [--tdp on,off] [--json]');
    }
  }, 60_000);
});

describe('scenario text in what the CLI prints (issue 14 item 7)', () => {
  // ESC (clear screen), CR, LF with a forged report line, TAB, NUL, C1 CSI, RLO: YAML escapes.
  const HOSTILE = String.raw`x\e[2J\ry\nexits.EPT_MISCONFIG: 0\tz\0\x9b\u202eq`;
  const SHOWN = 'x\\x1b[2J\\x0dy\\x0aexits.EPT_MISCONFIG: 0\\x09z\\x00\\x9b\\u202eq';
  const RAW = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029\u202e]/;
  const doorbell = (s: string) =>
    readFileSync('examples/doorbell.mmio.yaml', 'utf8').replace('name: Doorbell writes to an emulated NIC', `name: "${s}"`).replace('label: transaction', `label: "${s}"`);

  it('run: a name and a label with LF, CR and TAB print escaped, on the lines a plain name has', () => {
    writeFileSync(join(dir, 'item7-hostile.mmio.yaml'), doorbell(HOSTILE));
    writeFileSync(join(dir, 'plain.mmio.yaml'), doorbell('plain'));
    const hostile = cli('run', join(dir, 'item7-hostile.mmio.yaml'));
    const plain = cli('run', join(dir, 'plain.mmio.yaml'));
    expect(hostile.status, hostile.stderr).toBe(0);
    expect(hostile.stdout).toContain(`Scenario ${SHOWN} (`);
    expect(hostile.stdout).not.toMatch(RAW);
    expect(hostile.stdout.split('\n').length).toBe(plain.stdout.split('\n').length);
    expect(hostile.stdout.split('\n').filter((l) => l.startsWith('exits.'))).toEqual([]);
  }, 60_000);

  it('--json: valid JSON whose strings are exactly the file\'s (DEL, C1, U+2028 and bidi controls as \\u escapes), nothing raw', () => {
    const name = 'a\u0000\u001b\n\u007f\u009b\u2028\u202eb';
    const file = join(dir, 'item7-json.mmio.yaml');
    writeFileSync(file, doorbell(String.raw`a\0\e\n\x7f\x9b\u2028\u202eb`));
    for (const args of [['run', '--json', file], ['compare', '--json', file]]) {
      const p = cli(...args);
      expect(p.status, p.stderr).toBe(0);
      expect(p.stdout).not.toMatch(RAW);
      expect(JSON.parse(p.stdout).name, args.join(' ')).toBe(name);
    }
  }, 60_000);

  it('an override error for a file whose name holds a line break is one line of stderr', () => {
    const file = join(dir, 'two\nlines.mmio.yaml');
    writeFileSync(file, readFileSync('examples/doorbell.mmio.yaml', 'utf8'));
    const p = cli('run', file, '--bypass-guest-pf', 'on');
    expect(p.status).toBe(2);
    expect(p.stderr).toBe(`${join(dir, 'two\\x0alines.mmio.yaml')}: error: with --bypass-guest-pf on: mmu.bypass_guest_pf: true is not possible: kernel v3.1 no longer has it (the 2011 MMIO series removed it; use kernel: v3.0), and VMX forces it off when EPT is in use (tdp: true; use tdp: false)\n`);
  }, 60_000);

  it('a problem that quotes a key with a line break is one line of stderr', () => {
    const file = join(dir, 'bad-key.mmio.yaml');
    writeFileSync(file, `name: x\n"${HOSTILE}": 1\n`);
    const p = cli('run', file);
    expect(p.status).toBe(2);
    expect(p.stderr).toContain(SHOWN);
    expect(p.stderr).not.toMatch(RAW);
    const lines = p.stderr.split('\n').filter((l) => l !== '');
    expect(lines.length).toBeGreaterThan(0);
    for (const l of lines) expect(l.startsWith(`${file}:`), l).toBe(true);
  }, 60_000);
});
