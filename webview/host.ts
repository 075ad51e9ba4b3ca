// The panel's side of the protocol: the VS Code webview API (or a test's stand-in for it).

import type { HostMessage, PanelMessage, PanelState } from '../shared/protocol';

interface VsCodeApi {
  postMessage(msg: unknown): void;
  getState(): unknown;
  setState(state: unknown): void;
}

declare function acquireVsCodeApi(): VsCodeApi;

const api: VsCodeApi = acquireVsCodeApi();

export function post(msg: PanelMessage): void {
  api.postMessage(msg);
}

export function loadState(): PanelState | null {
  return (api.getState() as PanelState | undefined) ?? null;
}

export function saveState(state: PanelState): void {
  api.setState(state);
}

export function onHostMessage(handler: (msg: HostMessage) => void): void {
  window.addEventListener('message', (e: MessageEvent) => {
    const msg = e.data as HostMessage | null;
    if (msg && typeof msg === 'object' && typeof msg.type === 'string') handler(msg);
  });
}
