// TODO(issue 12): stand-in for simulator/kvm/kernel_functions.ts (branch issue12-flame), same
// signature. When both branches are merged, import kernelSourceUrl from there
// (webview/kernel_url.ts, test/flame-view-modules.test.ts, test/webview/flame-view.test.ts) and
// delete this file.

import type { Kernel } from '../simulator/scenario/types';

const RELEASE: Record<Kernel, string> = { 'v3.0': 'v3.0.1', 'v3.1': 'v3.1.10' };
/** Frames that are not kernel functions. */
const NOT_KERNEL = new Set(['guest']);

/** Where `fnName` is defined in the era's release source, or null when it is not a kernel function. */
export function kernelSourceUrl(kernel: Kernel, fnName: string): string | null {
  if (NOT_KERNEL.has(fnName) || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(fnName)) return null;
  return `https://elixir.bootlin.com/linux/${RELEASE[kernel]}/C/ident/${fnName}`;
}
