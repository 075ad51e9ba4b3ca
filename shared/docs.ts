// The reference documents the package ships (docs/ in the .vsix), which the panel's links and the
// commands "Open Scenario Format Reference" and "Open Fault Class Reference" open in VS Code's
// Markdown preview. scripts/vsix_contents.mjs requires the same files (test/package.test.ts).

export type DocId = 'scenario-format' | 'fault-classes';

export interface Doc {
  /** The file, relative to the extension's root (and the repository's). */
  file: string;
  /** What a link to it says. */
  title: string;
}

export const DOCS: Record<DocId, Doc> = {
  'scenario-format': { file: 'docs/scenario-format.md', title: 'the scenario format reference' },
  'fault-classes': { file: 'docs/fault-classes.md', title: 'the fault class reference' },
};

export function isDocId(v: unknown): v is DocId {
  return typeof v === 'string' && Object.prototype.hasOwnProperty.call(DOCS, v);
}
