package testutil

import (
	"fmt"
	"os"
	"path/filepath"
)

// EnvtestAssets returns the directory of the control plane binaries that
// `make envtest` builds (kube-apiserver, etcd, kubectl): KUBEBUILDER_ASSETS
// when it is set, as the Makefile sets it, or else bin/k8s under root, the
// repository root, so that the suites also run from an editor. It fails,
// saying what to do, when the directory holds no kube-apiserver.
//
// It also sets KUBEBUILDER_ASSETS to that directory: envtest prefers the
// variable to Environment.BinaryAssetsDirectory whenever it is set, even to
// an empty string.
func EnvtestAssets(root string) (string, error) {
	dir := os.Getenv("KUBEBUILDER_ASSETS")
	if dir == "" {
		dir = filepath.Join(root, "bin", "k8s")
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(filepath.Join(dir, "kube-apiserver")); err != nil {
		return "", fmt.Errorf("no kube-apiserver in %s (set KUBEBUILDER_ASSETS or run `make envtest`): %w", dir, err)
	}
	return dir, os.Setenv("KUBEBUILDER_ASSETS", dir)
}
