#!/usr/bin/env bash
# Installs the independent protocol peers (node-opcua, Eclipse Tahu's sparkplug-client) from npm
# into tests/peers/node_modules, once. Tests that need them fail (not skip) when CI=true and they are missing.
set -u
dir="$(dirname "$0")/../tests/peers"
[ -f "$dir/package.json" ] || exit 0
command -v npm >/dev/null 2>&1 || { echo "npm not found: node peers not installed" >&2; exit 0; }
if [ ! -d "$dir/node_modules" ] || [ "$dir/package.json" -nt "$dir/node_modules" ]; then
  (cd "$dir" && npm install --no-audit --no-fund --loglevel=error >/dev/null 2>&1 && touch node_modules) \
    || echo "npm install of test peers failed" >&2
fi
exit 0
