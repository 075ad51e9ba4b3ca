// A kernel function's name as a link to its definition in the era's release source. A webview
// cannot open URLs itself: the link posts `openExternal` and the host opens it (after checking it
// against shared/external_links.ts).

import type { Kernel } from '../simulator/scenario/types';
import { h, type Child } from './dom';
import { post } from './host';
import { kernelFnUrl } from './kernel_url';

const RELEASE: Record<Kernel, string> = { 'v3.0': '3.0.1', 'v3.1': '3.1.10' };

/** The name as a link when the era's source has it, else as plain text. */
export function kernelFnLink(kernel: string, fn: string): HTMLElement {
  const url = kernelFnUrl(kernel, fn);
  if (url === null) return h('span', { class: 'kfn' }, fn);
  const label = `Open ${fn} in the Linux ${RELEASE[kernel as Kernel]} source`;
  const a = h('a', { class: 'kfn kfn-link', href: url, title: label, 'aria-label': label, 'data-kernel-fn': fn }, fn);
  a.addEventListener('click', (e) => {
    e.preventDefault();
    e.stopPropagation();
    post({ type: 'openExternal', url });
  });
  return a;
}

/** A "deciding function" text such as "FNAME(walk_addr) / x86_emulate_instruction": each name linked. */
export function kernelFnLinks(kernel: string, text: string): HTMLElement {
  const parts: Child[] = [];
  text.split(' / ').forEach((fn, i) => {
    if (i > 0) parts.push(' / ');
    parts.push(kernelFnLink(kernel, fn));
  });
  return h('span', { class: 'kfn-list' }, ...parts);
}
