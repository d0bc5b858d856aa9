#!/usr/bin/env bash
# Build istiod (pilot-discovery) for the Istio lab tests into .tools/bin/ (cached; see
# tools/gobuild.sh). istio.io/istio tags releases without a "v", so the wrapper module in
# tools/go/istio pins the pseudo-version of the release tag 1.29.1. Without Go this says so and exits 0: the lab
# tests then skip with the reason.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
if ! command -v go >/dev/null 2>&1; then
  echo "istio-build: go is not installed; the Istio lab tests will skip" >&2
  exit 0
fi
"$here/gobuild.sh" istio pilot-discovery istio.io/istio/pilot/cmd/pilot-discovery >/dev/null
