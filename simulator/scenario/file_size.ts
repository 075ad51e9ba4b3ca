// The largest scenario file read. Hand-written scenarios are a few KB (the bundled examples at most
// 4 KB) and `repeat` makes long step lists unnecessary, while a huge file costs memory and parse
// time before any other limit is reached (issue 14 measured 830 MB for 10 MB of unknown keys).

/** 1 MiB: 250 times the largest example. */
export const MAX_FILE_BYTES = 1 << 20;

/** Why a file of `bytes` bytes is not read, or null when it may be. */
export function fileSizeProblem(bytes: number): string | null {
  if (bytes <= MAX_FILE_BYTES) return null;
  return `the file is ${bytes} bytes; scenario files are limited to ${MAX_FILE_BYTES} bytes (1 MiB)`;
}

/** Why a text (a document's, not yet a file's bytes) is not parsed, or null when it may be. */
export function textSizeProblem(text: string): string | null {
  // Longer than the limit in UTF-16 units is longer in UTF-8 bytes too; only a close call is counted.
  return fileSizeProblem(text.length > MAX_FILE_BYTES ? text.length : text.length * 3 > MAX_FILE_BYTES ? utf8Bytes(text) : 0);
}

/** The UTF-8 size of `text`, without encoding it. */
export function utf8Bytes(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c < 0xdc00) {
      n += 4; // a surrogate pair: one 4-byte character
      i++;
    } else n += 3;
  }
  return n;
}
