// A worker thread of `mmu-lab compare`: parse the scenario, run one variant, post its RunResult, or
// the setup error (with its position) when the variant's VM cannot be built.
import { parentPort, workerData } from 'node:worker_threads';
import { parseScenario } from '../scenario/parse';
import { runVariant } from '../run/compare';
import { selectVariants, type VariantSelection } from '../run/kernel_variants';
import { GuestSetupError } from '../run/run';

// The same selection as the main thread, so the same variant list (selectVariants is deterministic).
const { text, file, index, selection } = workerData as { text: string; file: string; index: number; selection: VariantSelection };
const parsed = parseScenario(text, file);
if ('diagnostics' in parsed) throw new Error('the scenario did not parse in the worker');
try {
  parentPort!.postMessage({ result: runVariant(parsed.scenario, selectVariants(parsed.scenario, selection)[index]!.overrides) });
} catch (e) {
  if (!(e instanceof GuestSetupError)) throw e;
  parentPort!.postMessage({ error: { message: e.message, line: e.line, col: e.col } });
}
