//go:build tools

// Package istiobuild pins istio.io/istio so tools/gobuild.sh can build pilot-discovery
// (istiod) from the Go module proxy. istio.io/istio publishes no semver tags, so the
// proxy serves it as pseudo-versions; this one is a master commit of 2026-04-23 that
// carries istio.io/api v1.30.0-alpha.1 (the Istio 1.30 development line).
package istiobuild

import (
	_ "istio.io/istio/pilot/cmd/pilot-discovery"
)
