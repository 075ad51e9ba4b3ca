// What every parse and every run of a fuzz mutant must satisfy (test/fuzz-*.test.ts): a located,
// readable message or a result, never a crash, a leaked stack or the YAML library's internals.
import { expect } from 'vitest';
import type { Diagnostic } from '../../simulator/scenario/types';
import { MAX_DIAGNOSTICS } from '../../simulator/scenario/diagnostic_cap';
import { GuestSetupError, OverrideError, VariantError } from '../../simulator/index';
import { OverBudgetError } from '../../simulator/run/work_budget';

/** Things a message must not contain: a JavaScript stack, a value printed by accident, the YAML library's API or its overflow. */
const LEAKS: readonly RegExp[] = [/\n\s+at /, /\bat \S+ \(.*:\d+:\d+\)/, /\bundefined\b/, /\[object \w+\]/, /Maximum call stack/, /parseAllDocuments|parseDocument|YAML\.\w+\(|YAMLParseError|YAMLMap|YAMLSeq|\bScalar\b|\bCST\b/, /\bTypeError\b|\bRangeError\b/];

/** `message` reads as a message for a user of `text`: non-empty, no leaks, "NaN" only if the user wrote it. */
export function expectReadable(message: string, text: string): void {
  expect(message.trim(), 'empty message').not.toBe('');
  // (A leak pattern the user's own text matches, say a key named `undefined`, may be quoted back.)
  for (const leak of LEAKS) if (!leak.test(text)) expect(message, `message leaks ${leak}`).not.toMatch(leak);
  if (!/nan/i.test(text)) expect(message, 'NaN the user did not write').not.toMatch(/\bNaN\b/);
}

/** Diagnostics that point into `text`, each readable, at most the cap (and its "and M more"). */
export function expectLocated(diagnostics: readonly Diagnostic[], text: string): void {
  expect(diagnostics.length).toBeGreaterThan(0);
  expect(diagnostics.length).toBeLessThanOrEqual(MAX_DIAGNOSTICS + 1);
  // Lines as the parser and the YAML library count them (LF; a CR before it is part of the line).
  const lines = text.split('\n');
  const lineCount = lines.length;
  const colOk = (line: number, col: number) => line > lineCount || col <= lines[line - 1]!.length + 1;
  for (const d of diagnostics) {
    expectReadable(d.message, text);
    expect(Number.isInteger(d.line) && d.line >= 1 && d.line <= lineCount + 1, `line ${d.line} of ${lineCount}: ${d.message}`).toBe(true);
    expect(Number.isInteger(d.col) && d.col >= 1 && colOk(d.line, d.col), `col ${d.col} of line ${d.line}: ${d.message}`).toBe(true);
    expect(colOk(d.endLine, d.endCol), `end col ${d.endCol} of line ${d.endLine}: ${d.message}`).toBe(true);
    // A message that quotes the token it is about must point at that token.
    const token = /token in YAML stream: ("(?:[^"\\]|\\.)*")$/.exec(d.message);
    if (token && d.line <= lineCount) expect(lines[d.line - 1]!.slice(d.col - 1), `${d.line}:${d.col} ${d.message}`).toContain(JSON.parse(token[1]!).split('\n')[0]);
    expect(Number.isInteger(d.endLine) && Number.isInteger(d.endCol), `end ${d.endLine}:${d.endCol}`).toBe(true);
    expect(d.endLine > d.line || (d.endLine === d.line && d.endCol >= d.col), `end ${d.endLine}:${d.endCol} before ${d.line}:${d.col}: ${d.message}`).toBe(true);
  }
}

/** Runs `f`; a thrown error must be one the simulator documents, with a readable message. */
export function expectResultOrDocumentedError<T>(f: () => T, text: string): T | Error {
  try {
    return f();
  } catch (e) {
    const documented = e instanceof GuestSetupError || e instanceof OverrideError || e instanceof VariantError || e instanceof OverBudgetError;
    if (!documented) throw e; // fast-check reports it, with the mutant that threw it
    expectReadable(e.message, text);
    return e;
  }
}
