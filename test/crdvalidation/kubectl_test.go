package crdvalidation

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// runKubectl runs the real kubectl against the test API server.
func runKubectl(t *testing.T, args ...string) string {
	t.Helper()
	stdout, stderr, err := kubectl.Run(args...)
	out, _ := io.ReadAll(stdout)
	errOut, _ := io.ReadAll(stderr)
	if err != nil {
		t.Fatalf("kubectl %s: %v\n%s%s", strings.Join(args, " "), err, out, errOut)
	}
	return string(out)
}

// explain waits for the API server to publish the CRDs' OpenAPI, which it
// does shortly after they are established, then runs kubectl explain.
func explain(t *testing.T, field string) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		stdout, stderr, err := kubectl.Run("explain", field)
		out, _ := io.ReadAll(stdout)
		if err == nil {
			return string(out)
		}
		if time.Now().After(deadline) {
			errOut, _ := io.ReadAll(stderr)
			t.Fatalf("kubectl explain %s: %v\n%s", field, err, errOut)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func TestKubectlExplainDescribesEveryStepField(t *testing.T) {
	out := explain(t, "appapi.spec.steps")
	for _, field := range []string{"name", "when", "onError", "http", "transform", "respond", "validate", "jwt", "call", "wait", "xmlToJson"} {
		if !strings.Contains(out, "\n  "+field+"\t") {
			t.Errorf("kubectl explain appapi.spec.steps does not list %q:\n%s", field, out)
		}
	}
	if !strings.Contains(out, "Exactly one operation field is") {
		t.Errorf("kubectl explain appapi.spec.steps does not describe the step:\n%s", out)
	}
	out = explain(t, "appapi.spec.steps.http")
	for _, field := range []string{"url", "method", "headers", "query", "body", "bodyText", "timeout"} {
		if !strings.Contains(out, "\n  "+field+"\t") {
			t.Errorf("kubectl explain appapi.spec.steps.http does not list %q:\n%s", field, out)
		}
	}
}

func TestKubectlApplySamplesAndPrinterColumns(t *testing.T) {
	ns := newNamespace(t)
	out := runKubectl(t, "apply", "--server-side", "-n", ns, "-k", "../../config/samples/")
	if strings.Count(out, "serverside-applied") != 3 {
		t.Fatalf("kubectl apply of the samples:\n%s", out)
	}
	for kind, columns := range map[string][]string{
		"appapis":      {"NAME", "ENVIRONMENT", "METHOD", "PATH", "ACCEPTED", "READY", "AGE"},
		"apitokens":    {"NAME", "ENVIRONMENT", "SECRET", "EXPIRES", "READY", "AGE"},
		"environments": {"NAME", "URL", "APIS", "TOKENS", "READY", "AGE"},
	} {
		out := runKubectl(t, "get", kind, "-n", ns)
		header := strings.Fields(strings.SplitN(out, "\n", 2)[0])
		if strings.Join(header, " ") != strings.Join(columns, " ") {
			t.Errorf("kubectl get %s columns = %v, want %v", kind, header, columns)
		}
	}
	out = runKubectl(t, "get", "appapis", "-n", ns, "-o", "wide")
	if !strings.Contains(out, "/hello/{name}") || !strings.Contains(out, "GET") {
		t.Errorf("kubectl get appapis does not show the method and path:\n%s", out)
	}
}

// TestKustomizeDeployBuilds builds what `make deploy` applies, with the
// kustomize inside kubectl: the CRDs, RBAC and the manager's Deployment.
func TestKustomizeDeployBuilds(t *testing.T) {
	out := runKubectl(t, "kustomize", "../../config/default")
	for _, want := range []string{
		"kind: CustomResourceDefinition", "name: appapis.appapi.dev", "name: apitokens.appapi.dev", "name: environments.appapi.dev",
		"kind: Deployment", "name: appapi-controller-manager", "namespace: appapi-system",
		"name: appapi-manager-role", "--gateway-image=",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("kubectl kustomize config/default lacks %q", want)
		}
	}
	// What make deploy applies must be accepted by a real API server.
	path := filepath.Join(t.TempDir(), "deploy.yaml")
	if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}
	applied := runKubectl(t, "apply", "--server-side", "-f", path)
	for _, want := range []string{"namespace/appapi-system serverside-applied", "deployment.apps/appapi-controller-manager serverside-applied",
		"clusterrole.rbac.authorization.k8s.io/appapi-manager-role serverside-applied"} {
		if !strings.Contains(applied, want) {
			t.Errorf("kubectl apply of config/default:\n%s\nlacks %q", applied, want)
		}
	}
}
