// eksctl-validate runs eksctl's own ClusterConfig loading and validation on each file
// named on the command line, in the order `eksctl create cluster -f` runs it
// (pkg/ctl/cmdutils: InitializeClusterConfig): strict parse, cluster defaults, cluster
// validation, then per node group ValidateNodeGroup + SetNodeGroupDefaults.
//
// It prints "ok FILE" or "FAIL FILE: error" per file and exits 1 if any file failed.
package main

import (
	"fmt"
	"os"

	api "github.com/weaveworks/eksctl/pkg/apis/eksctl.io/v1alpha5"
	"github.com/weaveworks/eksctl/pkg/eks"
	"k8s.io/client-go/kubernetes/scheme"
)

func validate(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	cfg, err := eks.ParseConfig(data)
	if err != nil {
		return fmt.Errorf("parse: %w", err)
	}
	api.SetClusterConfigDefaults(cfg)
	if err := api.ValidateClusterConfig(cfg); err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	for i, ng := range cfg.NodeGroups {
		if err := api.ValidateNodeGroup(i, ng, cfg); err != nil {
			return fmt.Errorf("nodeGroups[%d]: %w", i, err)
		}
		if err := api.SetNodeGroupDefaults(ng, cfg.Metadata, cfg.IsControlPlaneOnOutposts()); err != nil {
			return fmt.Errorf("nodeGroups[%d] defaults: %w", i, err)
		}
		// validate again with the defaults filled in, as later eksctl steps see it
		if err := api.ValidateNodeGroup(i, ng, cfg); err != nil {
			return fmt.Errorf("nodeGroups[%d] (defaults applied): %w", i, err)
		}
	}
	for i, ng := range cfg.ManagedNodeGroups {
		if err := api.SetManagedNodeGroupDefaults(ng, cfg.Metadata, cfg.IsControlPlaneOnOutposts()); err != nil {
			return fmt.Errorf("managedNodeGroups[%d] defaults: %w", i, err)
		}
		if err := api.ValidateManagedNodeGroup(i, ng); err != nil {
			return fmt.Errorf("managedNodeGroups[%d]: %w", i, err)
		}
	}
	return nil
}

func main() {
	if err := api.AddToScheme(scheme.Scheme); err != nil {
		fmt.Fprintln(os.Stderr, "scheme:", err)
		os.Exit(2)
	}
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: eksctl-validate CLUSTERCONFIG.yaml...")
		os.Exit(2)
	}
	failed := false
	for _, path := range os.Args[1:] {
		if err := validate(path); err != nil {
			fmt.Printf("FAIL %s: %v\n", path, err)
			failed = true
		} else {
			fmt.Printf("ok %s\n", path)
		}
	}
	if failed {
		os.Exit(1)
	}
}
