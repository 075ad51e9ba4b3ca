// A worker thread of `mmu-lab compare`: parse the scenario, run one variant, post its RunResult.
import { parentPort, workerData } from 'node:worker_threads';
import { parseScenario } from '../scenario/parse';
import { runVariant, variantsOf } from '../run/compare';

const { text, file, index } = workerData as { text: string; file: string; index: number };
const parsed = parseScenario(text, file);
if ('diagnostics' in parsed) throw new Error('the scenario did not parse in the worker');
parentPort!.postMessage(runVariant(parsed.scenario, variantsOf(parsed.scenario)[index]!.overrides));
