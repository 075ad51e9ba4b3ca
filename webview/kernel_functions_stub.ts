// TODO(issue 12): stand-in for simulator/kvm/kernel_functions.ts, written in parallel (same
// signature). When it lands, import kernelSourceUrl from there (webview/kernel_link.ts,
// webview/views/flame.ts, test/flame-view-modules.test.ts, test/webview/flame-view.test.ts) and
// delete this file.

const RELEASE: Record<string, string> = { 'v3.0': 'v3.0.1', 'v3.1': 'v3.1.10' };
/** Frames that are not kernel functions. */
const NOT_KERNEL = new Set(['all', 'guest', 'userspace', 'device_userspace', 'qemu']);

/** Where `fn` is defined in the era's release source, or null when it is not a kernel function. */
export function kernelSourceUrl(kernel: string, fn: string): string | null {
  const tag = RELEASE[kernel];
  if (!tag || NOT_KERNEL.has(fn) || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(fn)) return null;
  return `https://elixir.bootlin.com/linux/${tag}/C/ident/${fn}`;
}
