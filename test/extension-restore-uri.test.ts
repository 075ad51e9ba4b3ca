// Issue 14 item 14: the panel's saved state (restored by VS Code, and posted with `ready`) names a
// scenario URI; the host runs it again only when it recorded that URI itself (restore_uri.ts). On
// main any URI in the state was stat'ed, opened and run: a file outside the workspace, /etc/hostname.
import { describe, expect, it } from 'vitest';
import { INITIAL_STATE } from '../shared/protocol';
import { restorableUri } from '../extension/restore_uri';

const RAN = 'file:///work/ws/doorbell.mmio.yaml';
const recorded = (uri: string) => uri === RAN;
const state = (uri: unknown) => ({ ...INITIAL_STATE, uri });

describe('restorableUri', () => {
  it('gives back the URI of a run the host recorded', () => {
    expect(restorableUri(state(RAN), recorded)).toBe(RAN);
  });

  it('ignores a URI the host never ran, without asking about anything else', () => {
    const asked: string[] = [];
    const spy = (uri: string) => (asked.push(uri), recorded(uri));
    for (const uri of ['file:///etc/hostname', 'file:///work/other.mmio.yaml', 'file:///work/ws/doorbell.mmio.yaml?x', 'file:///work/ws/../ws/doorbell.mmio.yaml', 'FILE:///work/ws/doorbell.mmio.yaml']) {
      expect(restorableUri(state(uri), spy)).toBeNull();
    }
    expect(asked.length).toBe(5);
  });

  it('ignores other schemes the host never ran', () => {
    for (const uri of ['https://evil.example/x.mmio.yaml', 'vscode-remote://ssh-remote+h/etc/passwd', 'untitled:Untitled-1', 'command:workbench.action.terminal.new', 'data:text/plain,x']) {
      expect(restorableUri(state(uri), recorded)).toBeNull();
    }
    // A recorded URI of another scheme (VS Code for the Web's files) is the host's own: accepted.
    const web = 'vscode-test-web://mount/doorbell.mmio.yaml';
    expect(restorableUri(state(web), (u) => u === web)).toBe(web);
  });

  it('ignores states that are not a panel state', () => {
    for (const s of [null, undefined, 'file:///work/ws/doorbell.mmio.yaml', 42, [], {}, state(null), state(''), state(7), state({ toString: () => RAN }), state([RAN])]) {
      expect(restorableUri(s, () => true)).toBeNull();
    }
  });
});
