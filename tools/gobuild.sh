#!/usr/bin/env bash
# Build Go programs from the Go module proxy into a cache shared by every checkout.
#
#   tools/gobuild.sh WRAPPER OUT PACKAGE [LDFLAGS]
#
# WRAPPER  a directory under tools/go/ holding a wrapper module (go.mod + go.sum, and
#          tools.go or main.go) that pins the upstream module and its replace block
# OUT      the name of the binary to produce
# PACKAGE  the Go package to build (e.g. k8s.io/kubernetes/cmd/kube-apiserver)
# LDFLAGS  optional -ldflags (version stamping)
#
# The binary lands in $EDGEWISE_CACHE/go/<key>/OUT, where the key hashes the wrapper
# module's files, the package, the flags and the Go version: a change to any of them
# rebuilds, anything else reuses. A symlink .tools/bin/OUT in the checkout points at it.
# The path of the binary is printed on stdout; build logs go to stderr.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
wrapper="$1" out="$2" pkg="$3" ldflags="${4:-}"
moddir="$root/tools/go/$wrapper"
[ -f "$moddir/go.mod" ] || { echo "gobuild: no wrapper module at $moddir" >&2; exit 2; }
cache="${EDGEWISE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/edgewise}"
key=$( { (cd "$moddir" && cat go.mod go.sum *.go 2>/dev/null); echo "$pkg|$ldflags|$(go env GOVERSION)"; } \
       | sha256sum | cut -c1-16)
dest="$cache/go/$key"
if [ ! -x "$dest/$out" ]; then
  mkdir -p "$dest"
  echo "gobuild: building $out ($pkg) — the first build can take several minutes" >&2
  tmp="$dest/.$out.$$"
  (cd "$moddir" && GOFLAGS=-mod=mod \
      go build -trimpath -ldflags "$ldflags" -o "$tmp" "$pkg") >&2
  mv -f "$tmp" "$dest/$out"
fi
mkdir -p "$root/.tools/bin"
ln -sfn "$dest/$out" "$root/.tools/bin/$out"
echo "$dest/$out"
