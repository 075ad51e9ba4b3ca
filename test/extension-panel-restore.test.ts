// Issue 14 item 14, on the host's own code: ResultsPanel with a fake `vscode` and a fake webview
// panel. A restored panel's state and a `ready` message that name a URI the host never recorded
// cause no file-system call and no run; the URI of a recorded run is checked and run again. On main
// both unknown URIs were stat'ed (and run when they existed).
import { beforeEach, describe, expect, it, vi } from 'vitest';

const fsCalls: string[] = [];
const docsOpened: string[] = [];
const disposable = { dispose: () => undefined };
let serializer: { deserializeWebviewPanel(panel: unknown, state: unknown): Promise<void> } | undefined;

vi.mock('vscode', () => {
  const uri = (s: string) => ({ scheme: s.split(':')[0], path: s.replace(/^[a-z-]+:\/\//, ''), toString: () => s });
  const record = (what: string) => async (u: { toString(): string }) => {
    fsCalls.push(`${what} ${u.toString()}`);
    return { type: 1 };
  };
  return {
    Uri: { parse: (s: string) => uri(s), joinPath: (base: { toString(): string }, ...parts: string[]) => uri([base.toString(), ...parts].join('/')) },
    window: {
      registerWebviewPanelSerializer: (_t: string, s: typeof serializer) => ((serializer = s), disposable),
      onDidChangeTextEditorSelection: () => disposable,
      visibleTextEditors: [],
      tabGroups: { all: [] },
    },
    workspace: {
      textDocuments: [],
      fs: { stat: record('stat'), readFile: record('readFile') },
      openTextDocument: async (u: { toString(): string }) => (docsOpened.push(u.toString()), {}),
    },
    commands: { executeCommand: async () => undefined },
    env: {},
    ViewColumn: { Beside: -2 },
  };
});

const { ResultsPanel } = await import('../extension/panel');

const RAN = 'file:///ws/doorbell.mmio.yaml';

function fakePanel() {
  let receive: ((m: unknown) => void) | undefined;
  const posted: unknown[] = [];
  const panel = {
    title: '',
    visible: true,
    webview: {
      options: {},
      html: '',
      cspSource: 'vscode-resource:',
      asWebviewUri: (u: unknown) => u,
      postMessage: async (m: unknown) => (posted.push(m), true),
      onDidReceiveMessage: (f: (m: unknown) => void) => ((receive = f), disposable),
    },
    onDidChangeViewState: () => disposable,
    onDidDispose: () => disposable,
    dispose: () => undefined,
  };
  return { panel, posted, send: (m: unknown) => receive!(m) };
}

function host() {
  const restored: string[] = [];
  const store = { latest: undefined, wasRecorded: (u: string) => u === RAN, onDidRecord: () => disposable, isFresh: () => false };
  const extensionUri = { toString: () => 'file:///ext' };
  const panel = new ResultsPanel(extensionUri as never, {} as never, store as never, {} as never, async (u) => void restored.push(u.toString()));
  return { panel, restored };
}

/** Lets the un-awaited restore run to its end. */
const settle = () => new Promise((r) => setTimeout(r, 0));

describe('a restored panel asks for a URI', () => {
  beforeEach(() => {
    fsCalls.length = 0;
    docsOpened.length = 0;
    serializer = undefined;
  });

  it('that the host never ran: no stat, no open, no run (serializer state and ready message)', async () => {
    const { restored } = host();
    const p = fakePanel();
    await serializer!.deserializeWebviewPanel(p.panel, { uri: 'file:///etc/hostname' });
    p.send({ type: 'ready', state: { uri: 'file:///etc/hostname' } });
    p.send({ type: 'ready', state: { uri: 'https://evil.example/x.mmio.yaml' } });
    p.send({ type: 'ready', state: { uri: 'file:///ws/../etc/passwd' } });
    await settle();
    expect(fsCalls).toEqual([]);
    expect(docsOpened).toEqual([]);
    expect(restored).toEqual([]);
    // The panel was told nothing about those paths either.
    expect(JSON.stringify(p.posted)).not.toMatch(/hostname|passwd|evil/);
  });

  it('that the host recorded: it is checked and run again', async () => {
    const { restored } = host();
    const p = fakePanel();
    await serializer!.deserializeWebviewPanel(p.panel, { uri: RAN });
    await settle();
    expect(fsCalls).toEqual([`stat ${RAN}`]);
    expect(restored).toEqual([RAN]);
  });
});
