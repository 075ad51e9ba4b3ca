#!/usr/bin/env bash
# The Debian packages the tests need that npm cannot provide: Chromium, for the panel's tests in a
# real browser (playwright-core drives /usr/bin/chromium; Playwright's own browser download does not
# work on these machines). Extra Debian package names may be given as arguments (the end-to-end
# workbenches add theirs: scripts/install-e2e-workbenches.sh). Installs only what is missing.
set -euo pipefail
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
for pkg in "$@"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || need+=("$pkg")
done
if [ ${#need[@]} -eq 0 ]; then exit 0; fi
sudo=''
if [ "$(id -u)" -ne 0 ]; then sudo='sudo'; fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq "${need[@]}" >/dev/null
echo "installed: ${need[*]}"
