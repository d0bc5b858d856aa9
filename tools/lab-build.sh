#!/usr/bin/env bash
# Build the test lab's programs (cached; see tools/gobuild.sh) into .tools/bin/:
# kube-apiserver, kube-scheduler, kube-controller-manager, kube-proxy (k8s.io/kubernetes),
# etcd, kwok and helm. Each is version-stamped with -ldflags, as the upstream release
# builds are, so `kubectl version` and `helm version` report real versions.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
K8S=v1.34.4 K8S_MAJOR=1 K8S_MINOR=34
KWOK=v0.7.0
# A fixed build date keeps the cache key (and the binaries) the same across builds.
DATE=2026-01-01T00:00:00Z

kv=""
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  kv+=" -X $pkg.gitVersion=$K8S -X $pkg.gitMajor=$K8S_MAJOR -X $pkg.gitMinor=$K8S_MINOR"
  kv+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=$DATE"
done
kv="-s -w$kv"

build() { "$here/gobuild.sh" "$@" >/dev/null; }
for cmd in kube-apiserver kube-scheduler kube-controller-manager kube-proxy; do
  build k8s "$cmd" "k8s.io/kubernetes/cmd/$cmd" "$kv"
done
# etcd carries its version in source (go.etcd.io/etcd/api/v3/version).
build etcd etcd go.etcd.io/etcd/server/v3 "-s -w"
# kwok carries its version in source (sigs.k8s.io/kwok/pkg/consts.Version).
build kwok kwok sigs.k8s.io/kwok/cmd/kwok "-s -w"
"$here/helm-build.sh" >/dev/null
echo "lab: $(ls "$here/../.tools/bin" | tr '\n' ' ')"
