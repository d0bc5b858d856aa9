#!/usr/bin/env bash
# Build helm into .tools/bin/helm (cached; see tools/gobuild.sh), version-stamped with
# -ldflags as the upstream release build is, so `helm version` reports v3.22.0.
# Used by the lab (tools/lab-build.sh) and by `make bench` (helm template vs plan).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
HELM=v3.22.0
"$here/gobuild.sh" helm helm helm.sh/helm/v3/cmd/helm \
  "-s -w -X helm.sh/helm/v3/internal/version.version=$HELM -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
