//go:build tools

// Package tools pins kwok (fake kubelets) for the test lab (built with tools/gobuild.sh).
package tools

import (
	_ "sigs.k8s.io/kwok/cmd/kwok"
)
