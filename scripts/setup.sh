#!/usr/bin/env bash
# Installs what arswarm needs, idempotently: the system packages (nats-server,
# git, Debian's python3 with torch for the tinygpt example, chromium for the
# dashboard tests) and the npm dependencies when node_modules is missing or
# older than the lockfile. Skips everything already present. Used by
# `npm run demo`, `npm test` and .ci/run, so both work on a fresh clone.
set -euo pipefail
cd "$(dirname "$0")/.."
quiet=0
[ "${1:-}" = "--quiet" ] && quiet=1
say() { [ "$quiet" = 1 ] || echo "setup: $*"; }

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  # `npm install` honours the lockfile; `npm ci` refuses this lockfile on
  # machines whose npm omits other platforms' optional packages from it.
  echo "setup: npm install (from package-lock.json)" >&2
  npm install --no-audit --no-fund --loglevel=error >&2
fi

need=()
command -v nats-server >/dev/null 2>&1 || [ -x /usr/sbin/nats-server ] || need+=(nats-server)
command -v git >/dev/null 2>&1 || need+=(git)
[ -x /usr/bin/python3 ] || need+=(python3)
if [ "${ARSWARM_SETUP_TORCH:-1}" = 1 ] && ! /usr/bin/python3 -c 'import torch' >/dev/null 2>&1; then
  need+=(python3-torch python3-numpy libopenblas0-pthread)
fi
if [ "${ARSWARM_SETUP_BROWSER:-1}" = 1 ] && [ ! -x /usr/bin/chromium ]; then need+=(chromium); fi

if [ ${#need[@]} -eq 0 ]; then
  say "system packages present"
  exit 0
fi
sudo=""
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
    echo "setup: missing packages: ${need[*]}; install them as root: apt-get install -y ${need[*]}" >&2
    exit 1
  fi
fi
echo "setup: installing ${need[*]} (apt-get)" >&2
export DEBIAN_FRONTEND=noninteractive
log=$(mktemp)
if ! { $sudo apt-get update -qq && $sudo apt-get install -y -qq --no-install-recommends "${need[@]}"; } >"$log" 2>&1; then
  tail -30 "$log" >&2
  echo "setup: apt-get failed (full log: $log)" >&2
  exit 1
fi
rm -f "$log"
echo "setup: installed ${need[*]}" >&2
