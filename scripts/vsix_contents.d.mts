// Types of scripts/vsix_contents.mjs, for test/package.test.ts.
export declare const MAX_VSIX_BYTES: number;
export declare const REQUIRED: string[];
export declare const ALLOWED: RegExp[];
export interface ZipEntry {
  name: string;
  /** Uncompressed size in bytes. */
  size: number;
}
export declare function zipEntries(file: string): ZipEntry[];
export declare function vsixProblems(entries: ZipEntry[], bytes: number): string[];
export declare const USER_README: string;
export declare function zipText(file: string, name: string): string | null;
export interface MarkdownTarget {
  image: boolean;
  target: string;
}
export declare function markdownTargets(text: string): MarkdownTarget[];
export declare function readmeProblems(text: string): string[];
export declare function inlineImages(text: string, read: (path: string) => Buffer): string;
