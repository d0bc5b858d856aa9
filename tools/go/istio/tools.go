//go:build tools

// Package istiobuild pins istio.io/istio so tools/gobuild.sh can build pilot-discovery
// (istiod) from the Go module proxy. istio.io/istio tags its releases without a "v"
// ("1.29.1"), so the proxy serves them only as pseudo-versions of the tagged commit:
// v0.0.0-20260306174214-6991a379e1fc is the commit of the release tag 1.29.1
// (6991a379e1fcfbe21e64da2eda5d56624a5547b4, 2026-03-06). Its dependencies are the
// release's own go.mod, except github.com/openshift/api, raised to a later pseudo-version
// because the checksum database does not answer for the one 1.29.1 names (that raises
// k8s.io/api and k8s.io/apimachinery from v0.35.0 to v0.35.1).
package istiobuild

import (
	_ "istio.io/istio/pilot/cmd/pilot-discovery"
)
