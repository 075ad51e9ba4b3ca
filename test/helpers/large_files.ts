// The largest valid workloads a scenario file can hold: just under MAX_FILE_BYTES of one-line reads,
// in a block list or one flow sequence (the two shapes that cost the most memory per byte).
import { MAX_FILE_BYTES } from '../../simulator/scenario/file_size';

const HEAD = `name: big reads
kernel: v3.1
host: { maxphyaddr: 40, profile: westmere-2011 }
mmu: { tdp: true, mmio_caching: true }
memslots:
  - { slot: 0, gpa: 0x0, size: 256M }
devices:
  - { name: nic, gpa: 0xfebf0000, size: 4K, handler: userspace }
guest:
  paging: 4-level
  cpu: { cr0_wp: true, efer_nx: true }
  mappings:
    - { gva: 0x0, gpa: 0x0, size: 2M, flags: "p w a d" }
    - { gva: 0xffffc90000000000, gpa: 0xfebf0000, size: 4K, flags: "p w pcd nx" }
`;

function fill(head: string, unit: string, tail: string): { text: string; steps: number } {
  const steps = Math.floor((MAX_FILE_BYTES - head.length - tail.length) / unit.length);
  return { text: head + unit.repeat(steps) + tail, steps };
}

/** `- read: 8` lines (about 104,000 steps). */
export const blockOfReads = () => fill(`${HEAD}workload:\n`, '- read: 8\n', '');

/** `workload: [{read: 8}, ...]` on one line. */
export const flowOfReads = () => fill(`${HEAD}workload: [`, '{read: 8},', ']\n');
