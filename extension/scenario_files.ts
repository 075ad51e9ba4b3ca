// What counts as a scenario (`*.mmio.yaml`, `*.mmio.json`), the extension's settings, and the
// source (text plus settings) a scenario document is run with.

import * as vscode from 'vscode';
import type { ProfileSetting, ScenarioSource } from './worker/requests';
import { pathBaseName } from './tables_uri';
import { fileSizeProblem } from '../simulator/scenario/file_size';

export const SCENARIO_GLOB = '**/*.mmio.{yaml,json}';
export const SCENARIO_EXCLUDE = '**/node_modules/**';
const SCENARIO_NAME = /\.mmio\.(yaml|json)$/i;

/** Documents that are views of something else (a git revision, our own tables text): never scenarios. */
const FOREIGN_SCHEMES = new Set(['git', 'gitfs', 'output', 'vscode-scm', 'vscode-notebook-cell', 'mmu-lab-tables']);

export function isScenarioUri(uri: vscode.Uri): boolean {
  return !FOREIGN_SCHEMES.has(uri.scheme) && SCENARIO_NAME.test(uri.path);
}

export function isScenarioDocument(doc: vscode.TextDocument): boolean {
  return isScenarioUri(doc.uri);
}

/** The file name shown to the user, used in diagnostics and as the default scenario name. */
export function fileName(uri: vscode.Uri): string {
  return pathBaseName(uri.path);
}

/** Whether a scenario's text has a top-level key (`compare`, `expect`): a cheap test, no parse. */
export function hasTopLevelKey(text: string, key: string, languageId = 'yaml'): boolean {
  if (languageId === 'json') {
    try {
      const v: unknown = JSON.parse(text);
      return typeof v === 'object' && v !== null && !Array.isArray(v) && key in v;
    } catch {
      return new RegExp(`"${key}"\\s*:`).test(text);
    }
  }
  return new RegExp(`^(${key}|"${key}"|'${key}')\\s*:`, 'm').test(text);
}

// ---------------------------------------------------------------------------------------------
// Settings

export interface Settings {
  costProfile: ProfileSetting;
  defaultKernel: 'v3.0' | 'v3.1';
  runOnSave: boolean;
  traceBufferSize: number;
}

const PROFILES: readonly ProfileSetting[] = ['scenario', 'westmere-2011', 'modern'];

/** The settings for a scenario (they are resource-scoped: a folder may set its own). Values that a
 *  hand-edited settings.json got wrong fall back to the defaults. */
export function settings(scope?: vscode.Uri): Settings {
  const c = vscode.workspace.getConfiguration('mmuLab', scope);
  const profile = c.get<string>('costProfile', 'scenario');
  const kernel = c.get<string>('defaultKernel', 'v3.1');
  const size = c.get<number>('traceBufferSize', 100_000);
  return {
    costProfile: (PROFILES as readonly string[]).includes(profile) ? (profile as ProfileSetting) : 'scenario',
    defaultKernel: kernel === 'v3.0' ? 'v3.0' : 'v3.1',
    runOnSave: c.get<boolean>('runOnSave', false) === true,
    traceBufferSize: Number.isInteger(size) ? Math.min(1_000_000, Math.max(0, size)) : 100_000,
  };
}

/** The text and settings a scenario document is run with (the document's current text, saved or not). */
export function scenarioSource(doc: vscode.TextDocument): ScenarioSource {
  return sourceOf(doc.uri, doc.getText());
}

export function sourceOf(uri: vscode.Uri, text: string): ScenarioSource {
  const s = settings(uri);
  return { uri: uri.toString(), file: fileName(uri), text, defaultKernel: s.defaultKernel, profile: s.costProfile };
}

/** A file over the scenario size limit (simulator/scenario/file_size.ts); the message is the parser's. */
export class FileTooLargeError extends Error {}

/** A scenario's text: the open document's (it may have unsaved edits), else the file's. A file over
 *  the size limit is not read (it is stat'ed first): FileTooLargeError. */
export async function readScenarioText(uri: vscode.Uri): Promise<string> {
  const open = vscode.workspace.textDocuments.find((d) => d.uri.toString() === uri.toString());
  if (open) return open.getText();
  const tooBig = fileSizeProblem((await vscode.workspace.fs.stat(uri)).size);
  if (tooBig !== null) throw new FileTooLargeError(tooBig);
  return new TextDecoder().decode(await vscode.workspace.fs.readFile(uri));
}
