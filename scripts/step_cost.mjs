// `node scripts/step_cost.mjs` (after `npm run build`): how long one workload step of each kind takes
// to simulate here, warm, under EPT and shadow paging (the dearer of the two is printed), for the
// step costs of simulator/run/work_budget.ts. A measurement to read, not a test.
import { parseScenario, runScenario } from '../dist/sim.mjs';

const scenario = (tdp, steps, n) => `
kernel: v3.1
mmu: { tdp: ${tdp} }
memslots:
  - { slot: 0, gpa: 0x0, size: 64M }
devices:
  - { name: nic, gpa: 0xfebf0000, size: 4K, handler: kernel }
guest:
  mappings:
    - { gva: 0xffff880000000000, gpa: 0x0, size: 64M, page: 2M, flags: "p w a d nx" }
    - { gva: 0xffffc90000000000, gpa: 0xfebf0000, size: 4K, flags: "p w a d pcd nx" }
workload:
  - repeat: ${n}
    steps:
${steps.map((s) => `      - ${s}`).join('\n')}
`;
const kinds = {
  read: ['{ read: 0xffff880000100000, size: 8 }'],
  write: ['{ write: 0xffffc90000000000, size: 4, value: 1 }'],
  fetch: ['{ fetch: 0xffff880000100000 }'],
  pte: ['{ pte: 0xffff880000100000, level: 2, flags: "p w a d ps nx" }'],
  invlpg: ['{ invlpg: 0xffff880000100000 }'],
  cr3: ['{ cr3: 0 }'],
  compute: ['{ compute: 10 }'],
  'memslot add + delete': ['{ memslot: add, slot: 5, gpa: 0x10000000, size: 4K }', '{ memslot: delete, slot: 5 }'],
  // The dearest forms: an interrupt window (two exits) and a HLT, each with a handler's EOI write.
  interrupt: ['{ interrupt: { vector: 0xef, source: timer, irqs_disabled: 10, eoi: 0xffffc900000000b0 } }'],
  hlt: ['{ hlt: { wake_after: 1000, vector: 0xef, source: timer, eoi: 0xffffc900000000b0 } }'],
};
const N = 20_000;
for (const [kind, steps] of Object.entries(kinds)) {
  // The time of 2N iterations less that of N: the VM's setup and the first, cold steps cancel out.
  const time = (tdp, n) => {
    const p = parseScenario(scenario(tdp, steps, n), 'step-cost.mmio.yaml');
    if ('diagnostics' in p) throw new Error(`${kind}: ${p.diagnostics[0].message}`);
    const t = performance.now();
    runScenario(p.scenario, { traceCapacity: 0 });
    return performance.now() - t;
  };
  const us = [true, false].map((tdp) => {
    time(tdp, N); // warm-up
    return ((time(tdp, 2 * N) - time(tdp, N)) * 1000) / (N * steps.length);
  });
  console.log(`${kind.padEnd(22)} EPT ${us[0].toFixed(2).padStart(6)} µs  shadow ${us[1].toFixed(2).padStart(6)} µs per step`);
}
