package integration

import (
	"io"
	"path/filepath"
	"testing"
	"time"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/appapi-dev/appapi/internal/testutil"
)

// startControlPlane starts kube-apiserver and etcd with the CRDs installed,
// for the length of the test. The Environment lets a test stop the API
// server early to show what the gateway does without it.
func startControlPlane(t *testing.T) (*rest.Config, *envtest.Environment) {
	t.Helper()
	logf.SetLogger(zap.New(zap.WriteTo(io.Discard)))
	assets, err := testutil.EnvtestAssets(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	testEnv := &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join("..", "..", "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
		BinaryAssetsDirectory: assets,
		// Kill the API server when stopping it rather than wait for its
		// graceful shutdown: a crash is the harder case for the gateway,
		// and nothing is left to flush at the end of a test.
		ControlPlaneStopTimeout: time.Second,
	}
	cfg, err := testEnv.Start()
	if err != nil {
		t.Fatalf("start envtest (run `make envtest` first): %v", err)
	}
	t.Cleanup(func() { _ = testEnv.Stop() })
	return cfg, testEnv
}
