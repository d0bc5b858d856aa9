#!/usr/bin/env bash
# Put the Helm charts the RUNBOOK installs where `edgewise verify` finds them: .tools/charts/
# (a symlink to a cache shared by every checkout, $EDGEWISE_CACHE/charts/<key>/).
#
#   aws-load-balancer-controller, aws-node-termination-handler, aws-ebs-csi-driver, consul:
#     the upstream charts, unpacked in tools/charts/ at the release tags tools/charts/README.md
#     names (the Go module proxy serves none of these repositories)
#   istio-base, istiod: manifests/charts/{base,istio-control/istio-discovery} of the
#     istio.io/istio module that tools/go/istio pins (the module istiod is built from). Those
#     are the development charts, which call themselves 1.0.0 (Istio's release build stamps
#     the release version into them); the copies get a file .release with the release the
#     pinned commit is (tools/go/istio/RELEASE), which verify takes as their version
#
# Without Go the Istio charts are left out and verify says so.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cache="${EDGEWISE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/edgewise}"
istio_mod=""
istio_release="$(tr -d '[:space:]' < "$root/tools/go/istio/RELEASE")"
if command -v go >/dev/null 2>&1; then
  istio_mod="istio.io/istio@$(awk '$1 == "require" && $2 == "istio.io/istio" {print $3}' "$root/tools/go/istio/go.mod")"
fi
key=$( { (cd "$root/tools/charts" && find . -type f -print0 | sort -z | xargs -0 sha256sum); echo "$istio_mod $istio_release"; } \
       | sha256sum | cut -c1-16)
dest="$cache/charts/$key"
if [ ! -f "$dest/.complete" ]; then
  tmp="$cache/charts/.$key.$$"
  rm -rf "$tmp"; mkdir -p "$tmp"
  for c in "$root"/tools/charts/*/; do cp -R "$c" "$tmp/"; done
  if [ -n "$istio_mod" ]; then
    dir=$(cd "$root/tools/go/istio" && GOFLAGS=-mod=mod go mod download -json "$istio_mod" \
          | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
    [ -d "$dir/manifests/charts/base" ] || { echo "charts-build: no charts in $istio_mod ($dir)" >&2; exit 1; }
    cp -R "$dir/manifests/charts/base" "$tmp/istio-base"
    cp -R "$dir/manifests/charts/istio-control/istio-discovery" "$tmp/istiod"
    chmod -R u+w "$tmp/istio-base" "$tmp/istiod"   # the module cache is read-only
    echo "$istio_mod" > "$tmp/istio-base/.module" && cp "$tmp/istio-base/.module" "$tmp/istiod/.module"
    echo "$istio_release" > "$tmp/istio-base/.release" && cp "$tmp/istio-base/.release" "$tmp/istiod/.release"
  else
    echo "charts-build: go is not installed: the Istio charts are left out" >&2
  fi
  touch "$tmp/.complete"
  rm -rf "$dest"; mv "$tmp" "$dest"
fi
mkdir -p "$root/.tools"
ln -sfn "$dest" "$root/.tools/charts"
echo "charts: $(ls "$dest" | tr '\n' ' ')"
