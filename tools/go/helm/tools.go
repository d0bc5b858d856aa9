//go:build tools

// Package tools pins helm for the test lab (built with tools/gobuild.sh).
package tools

import (
	_ "helm.sh/helm/v3/cmd/helm"
)
