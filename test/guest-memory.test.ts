// Guest RAM: a read returns what was last written, untouched RAM reads 0, whatever the host's
// frame arena and the shadow-page pool had to grow to hold.
import { describe, it, expect } from 'vitest';
import { run, vm } from './helpers/scenario';

describe('guest RAM contents', () => {
  it('survive growth of host memory and of the shadow-page pool', () => {
    // 30 pages 2M apart (distinct 2M regions: one EPT page table each) written, then read back,
    // then 30 untouched neighbours read: past the 64 host frames and 32+ shadow pages of the start.
    const at = (i: number, off: number) => '0x' + (0xffff880000000000n + BigInt(i) * 0x200000n + BigInt(off)).toString(16);
    const steps: string[] = [];
    for (let i = 0; i < 30; i++) steps.push(`  - { write: ${at(i, 0x18)}, size: 8, value: ${0x1000 + i} }`);
    for (let i = 0; i < 30; i++) steps.push(`  - { read: ${at(i, 0x18)}, size: 8 }`);
    for (let i = 0; i < 30; i++) steps.push(`  - { read: ${at(i, 0x1018)}, size: 4 }`);
    const r = run(vm('v3.1', steps.join('\n')), { accesses: true });
    const a = r.accesses!;
    for (let i = 0; i < 30; i++) expect(a[30 + i]!.value).toBe('0x' + (0x1000 + i).toString(16));
    for (let i = 0; i < 30; i++) expect(a[60 + i]!.value).toBe('0x0');
    expect(r.stats.shadow_pages).toBeGreaterThan(32);
    expect(r.stats.host_pages).toBeGreaterThan(64);
    expect(r.faults.map).toBe(60);
  });

  it('narrow accesses read back the bytes they cover, little-endian', () => {
    const ram = '0xffff880000300000';
    const r = run(vm('v3.0', `  - { write: ${ram}, size: 8, value: 0x1122334455667788 }\n  - { read: ${ram}, size: 1 }\n  - { read: 0xffff880000300002, size: 2 }\n  - { read: 0xffff880000300004, size: 4 }`), { accesses: true });
    expect(r.accesses!.slice(1).map((x) => x.value)).toEqual(['0x88', '0x5566', '0x11223344']);
  });
});
