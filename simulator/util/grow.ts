// Growing a typed array keeps its contents: the one helper for every growable table.

type Typed = Float64Array | Int32Array | Uint32Array | Uint8Array;

export function grown<T extends Typed>(a: T, length: number): T {
  const b = new (a.constructor as new (n: number) => T)(length);
  b.set(a);
  return b;
}
