// Which URL a frame or fault-class function name links to (pure; webview/kernel_link.ts draws it).

import { KERNELS, type Kernel } from '../simulator/scenario/types';
import { kernelSourceUrl } from '../simulator/kvm/kernel_functions';

/** The URL of `fn` in `kernel`'s release source, or null (not a modelled kernel, not a kernel
 *  function). paging_tmpl.h's FNAME(x) is compiled as paging64_x for the guests modelled. */
export function kernelFnUrl(kernel: string, fn: string): string | null {
  if (!(KERNELS as readonly string[]).includes(kernel)) return null;
  const fname = /^FNAME\((\w+)\)$/.exec(fn);
  return kernelSourceUrl(kernel as Kernel, fname ? `paging64_${fname[1]}` : fn);
}
