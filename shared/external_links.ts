// The URLs the panel may ask the host to open (PanelMessage `openExternal`): the kernel's release
// source on the sites that serve it. The host checks every request against this list, so a
// scenario's text can never make the extension open an arbitrary address.

/** Hosts that serve the Linux release trees' source. */
export const SOURCE_HOSTS: readonly string[] = ['elixir.bootlin.com', 'git.kernel.org'];

/** An https URL on one of SOURCE_HOSTS, without credentials or a port. */
export function isAllowedSourceUrl(url: unknown): url is string {
  if (typeof url !== 'string' || url.length > 2048) return false;
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return false;
  }
  return u.protocol === 'https:' && u.username === '' && u.password === '' && u.port === '' && SOURCE_HOSTS.includes(u.hostname);
}
