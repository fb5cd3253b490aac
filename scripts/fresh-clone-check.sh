#!/usr/bin/env bash
# The fresh-clone check of the README: in a new directory, `git clone`, the two commands,
# nothing else. `make test` must pass; `make demo` must print its banner, then stop cleanly
# on Ctrl-C (SIGINT to its process group, as a terminal sends it).
# Usage: scripts/fresh-clone-check.sh [REPO (default: this checkout)] [DEMO_SECONDS (default 90)]
# SKIP_MAKE_TEST=1 checks only the demo.
set -euo pipefail
repo="${1:-$(git -C "$(dirname "$0")/.." rev-parse --show-toplevel)}"
seconds="${2:-90}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
git clone -q "$repo" "$work/linewatch"
cd "$work/linewatch"
if [ "${SKIP_MAKE_TEST:-0}" != 1 ]; then
  echo "== make test"
  make test
fi
echo "== make demo (${seconds} s, then Ctrl-C)"
setsid make demo > demo.out 2>&1 &
pid=$!
for _ in $(seq 1 "$seconds"); do
  grep -q "Press Ctrl-C" demo.out && break
  sleep 1
done
grep -q "Press Ctrl-C" demo.out || { cat demo.out; echo "demo did not start" >&2; exit 1; }
kill -INT -- "-$pid"
wait "$pid" || true
grep -q "demo stopped" demo.out || { cat demo.out; echo "demo did not stop cleanly" >&2; exit 1; }
if pgrep -f "$work/linewatch/.venv" >/dev/null; then
  echo "processes of the demo are still running" >&2
  exit 1
fi
echo "fresh-clone check passed"
