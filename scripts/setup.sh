#!/usr/bin/env bash
# Installs what arswarm needs, idempotently, skipping whatever is present:
# the npm dependencies (when node_modules is missing or older than the
# lockfile), the compiled CLI in dist/ (when a source is newer than it) and
# the system packages the landscape demo uses (nats-server, git, python3).
# Extras on request:
#   --with torch      python3-torch for /usr/bin/python3 (examples/tinygpt)
#   --with browser    chromium (the dashboard tests)
#   --with optuna     python3-optuna and python3-cmaes for /usr/bin/python3 (the optuna proposer)
#   --with torch,browser
#   --check EXTRA     exit 0 when the extra is installed, 1 when not; installs nothing
# ARSWARM_SETUP_TORCH / ARSWARM_SETUP_BROWSER / ARSWARM_SETUP_OPTUNA = 1 ask for an extra too, 0 never.
# Used by `npm run demo` (no extras), `npm test` (all three), .ci/run and
# `arswarm up --example tinygpt` (torch, on first use).
set -euo pipefail
cd "$(dirname "$0")/.."
quiet=0
with=""
check=""
while [ $# -gt 0 ]; do
  case "$1" in
    --quiet) quiet=1 ;;
    --with) with="${with},${2:?--with needs a list such as torch,browser}"; shift ;;
    --with=*) with="${with},${1#--with=}" ;;
    --check) check="${2:?--check needs an extra: torch or browser}"; shift ;;
    *) echo "setup: unknown option $1 (see the head of scripts/setup.sh)" >&2; exit 2 ;;
  esac
  shift
done
say() { [ "$quiet" = 1 ] || echo "setup: $*" >&2; }

# Each extra: how it is checked, and which Debian packages provide it.
has_extra() {
  case "$1" in
    torch) /usr/bin/python3 -c 'import torch' >/dev/null 2>&1 ;;
    browser) [ -x /usr/bin/chromium ] ;;
    optuna) /usr/bin/python3 -c 'import optuna, cmaes' >/dev/null 2>&1 ;;
    *) echo "setup: unknown extra $1 (torch, browser, optuna)" >&2; exit 2 ;;
  esac
}
extra_packages() {
  case "$1" in
    torch) echo python3-torch python3-numpy libopenblas0-pthread ;;
    browser) echo chromium ;;
    optuna) echo python3-optuna python3-cmaes ;;
  esac
}

if [ -n "$check" ]; then
  has_extra "$check"
  exit $?
fi

wanted() { # extra name, its ARSWARM_SETUP_* variable's value
  [ "$2" = 0 ] && return 1
  [ "$2" = 1 ] && return 0
  case ",$with," in *",$1,"*) return 0 ;; esac
  return 1
}

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  # `npm install` honours the lockfile; `npm ci` refuses this lockfile on
  # machines whose npm omits other platforms' optional packages from it.
  echo "setup: npm install (from package-lock.json)" >&2
  npm install --no-audit --no-fund --loglevel=error >&2
fi

# The compiled CLI (does nothing when dist/ is current). Without it the CLI
# still runs, from the TypeScript sources through tsx, only slower to start.
node scripts/build.js --if-stale $([ "$quiet" = 1 ] && echo --quiet) ||
  echo "setup: building dist/ failed; arswarm runs the TypeScript sources through tsx instead (slower to start)" >&2

need=()
command -v nats-server >/dev/null 2>&1 || [ -x /usr/sbin/nats-server ] || need+=(nats-server)
command -v git >/dev/null 2>&1 || need+=(git)
[ -x /usr/bin/python3 ] || need+=(python3)
for extra in torch browser optuna; do
  var="ARSWARM_SETUP_$(echo "$extra" | tr a-z A-Z)"
  if wanted "$extra" "${!var:-}" && ! has_extra "$extra"; then
    # shellcheck disable=SC2207
    need+=($(extra_packages "$extra"))
  fi
done

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
