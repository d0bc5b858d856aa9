//go:build tools

// Package tools pins etcd for the test lab (built with tools/gobuild.sh).
package tools

import (
	_ "go.etcd.io/etcd/server/v3"
)
