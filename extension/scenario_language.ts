// Hover and completion in *.mmio.yaml from the extension itself (no YAML extension needed): the
// editor's side of scenario_help.ts, which decides what to show from the schema. *.mmio.json gets
// the same help from VS Code's JSON support through the schema (package.json `jsonValidation`).

import * as vscode from 'vscode';
import { completionsAt, hoverAt, type CompletionKind } from './scenario_help';
import { isScenarioDocument } from './scenario_files';

/** Every YAML document; the providers keep only scenarios (by name, not in a foreign scheme). */
const YAML_SELECTOR: vscode.DocumentSelector = [{ language: 'yaml' }, { pattern: '**/*.mmio.yaml' }];

const isYamlScenario = (doc: vscode.TextDocument) => isScenarioDocument(doc) && doc.languageId !== 'json';

/** Markdown built from the schema: not trusted (no command links), no HTML. */
const markdown = (text: string) => new vscode.MarkdownString(text);

const KINDS: Record<CompletionKind, vscode.CompletionItemKind> = {
  key: vscode.CompletionItemKind.Property,
  value: vscode.CompletionItemKind.EnumMember,
  token: vscode.CompletionItemKind.Constant,
};

export function registerScenarioLanguage(): vscode.Disposable[] {
  return [
    vscode.languages.registerHoverProvider(YAML_SELECTOR, {
      provideHover(doc, position) {
        if (!isYamlScenario(doc)) return undefined;
        const h = hoverAt(doc.getText(), doc.offsetAt(position));
        return h && new vscode.Hover(markdown(h.markdown), new vscode.Range(doc.positionAt(h.start), doc.positionAt(h.end)));
      },
    }),
    vscode.languages.registerCompletionItemProvider(
      YAML_SELECTOR,
      {
        provideCompletionItems(doc, position) {
          if (!isYamlScenario(doc)) return undefined;
          return completionsAt(doc.getText(), doc.offsetAt(position)).map((c, i) => {
            const item = new vscode.CompletionItem(c.label, KINDS[c.kind]);
            item.insertText = c.insertText;
            item.range = new vscode.Range(doc.positionAt(c.start), doc.positionAt(c.end));
            if (c.documentation) item.documentation = markdown(c.documentation);
            // The schema's order (kernel before host, v3.0 before v3.1), not the alphabet's.
            item.sortText = String(i).padStart(4, '0');
            return item;
          });
        },
      },
      // After `key: ` (its values), inside a flags string (the next token), after `exits.`.
      ' ',
      '.',
    ),
  ];
}
