// The URLs the panel may ask the host to open (PanelMessage `openExternal`): the kernel's release
// source, on the sites that serve it. The host checks every request against this list, so a
// scenario's text can never make the extension open an arbitrary address.

/** Where the release trees' source may be opened: https, this host, a path under this prefix.
 *  The GitHub mirrors are the 3.0.1 and 3.1.10 trees docs/kernel-paths.md §0 reads
 *  (simulator/kvm/kernel_functions.ts links into them); Elixir serves every release tag. */
export const SOURCE_LOCATIONS: readonly { host: string; path: string }[] = [
  { host: 'github.com', path: '/eastmoutain/Linux-3.0.1/blob/' },
  { host: 'github.com', path: '/kangsterizer/linux-3.1.y-rsbac/blob/' },
  { host: 'elixir.bootlin.com', path: '/linux/' },
];

/** An https URL into one of SOURCE_LOCATIONS, without credentials or a port. */
export function isAllowedSourceUrl(url: unknown): url is string {
  if (typeof url !== 'string' || url.length > 2048) return false;
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return false;
  }
  if (u.protocol !== 'https:' || u.username !== '' || u.password !== '' || u.port !== '') return false;
  // The parsed path has its dot segments resolved, so a prefix test cannot be escaped with "..".
  return SOURCE_LOCATIONS.some((l) => u.hostname === l.host && u.pathname.startsWith(l.path));
}
