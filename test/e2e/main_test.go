//go:build e2e

// Package e2e drives appapi end to end, as its users do: manifests applied
// with the real kubectl, the manager and gateways as separate processes,
// and real HTTP calls. Run it with `make test-e2e`.
package e2e

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/appapi-dev/appapi/internal/testutil"
	"github.com/appapi-dev/appapi/test/harness"
)

var (
	h    *harness.Harness
	root = filepath.Join("..", "..")
)

// deadline bounds every wait. It is generous on purpose: the machines that
// run this are shared, and how fast things happen is logged, not asserted.
const deadline = 30 * time.Second

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	work, err := os.MkdirTemp("", "appapi-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	abs, _ := filepath.Abs(root)
	h, err = harness.Start(context.Background(), harness.Options{Root: abs, WorkDir: work, Progress: os.Stderr})
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v (logs in %s)\n", err, work)
		return 1
	}
	code := m.Run()
	processes := h.Processes()
	h.Stop()
	// Stopping must leave nothing running, as Ctrl-C in `make demo` must not.
	for _, p := range processes {
		if err := syscall.Kill(p.PID(), 0); err == nil {
			fmt.Fprintf(os.Stderr, "e2e: process %d is still running after Stop\n", p.PID())
			code = 1
		}
	}
	if code != 0 {
		fmt.Fprintf(os.Stderr, "e2e: logs are in %s\n", work)
	} else {
		_ = os.RemoveAll(work)
	}
	return code
}

// kubectl runs the real kubectl against the harness.
func kubectl(t *testing.T, args ...string) string {
	t.Helper()
	out, err := kubectlErr(args...)
	if err != nil {
		t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func kubectlErr(args ...string) (string, error) {
	cmd := exec.Command(filepath.Join(root, "bin", "k8s", "kubectl"), append([]string{"--kubeconfig=" + h.Kubeconfig}, args...)...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// apply writes a manifest to a file and applies it with kubectl.
func apply(t *testing.T, ns, manifest string) {
	t.Helper()
	// Not t.TempDir(): kubectl -f splits on commas, which subtest names have.
	f, err := os.CreateTemp("", "manifest-*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	path := f.Name()
	defer func() { _ = os.Remove(path) }()
	if _, err := f.WriteString(manifest); err != nil {
		t.Fatal(err)
	}
	_ = f.Close()
	kubectl(t, "apply", "-n", ns, "-f", path)
}

func newNamespace(t *testing.T, name string) string {
	t.Helper()
	kubectl(t, "create", "namespace", name)
	return name
}

// waitFor waits for check to pass, up to deadline.
func waitFor(t *testing.T, what string, check func() error) time.Duration {
	t.Helper()
	return testutil.Eventually(t, deadline, what, check)
}

// gatewayURL waits for an Environment's gateway and returns its URL.
func gatewayURL(t *testing.T, ns, env string) string {
	t.Helper()
	var url string
	waitFor(t, "the gateway of "+ns+"/"+env, func() error {
		gw, ok := h.Gateway(ns, env)
		if !ok {
			return fmt.Errorf("no gateway process yet")
		}
		url = gw.URL
		return nil
	})
	kubectl(t, "wait", "-n", ns, "--for=condition=Ready", "--timeout=60s", "environment/"+env)
	return url
}

// token reads an ApiToken's plaintext from its Secret, once it is Ready.
func token(t *testing.T, ns, name string) string {
	t.Helper()
	kubectl(t, "wait", "-n", ns, "--for=condition=Ready", "--timeout=60s", "apitoken/"+name)
	return kubectl(t, "get", "secret", "-n", ns, name+"-token", "-o", "jsonpath={.data.token}")
}

type response struct {
	status int
	header http.Header
	body   string
}

// call makes one request; tokenB64 is a token as kubectl prints it (base64).
func call(method, url, tokenB64, contentType string, body io.Reader) (response, error) {
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		return response{}, err
	}
	if tokenB64 != "" {
		req.Header.Set("Authorization", "Bearer "+decode(tokenB64))
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		return response{}, err
	}
	defer func() { _ = resp.Body.Close() }()
	b, _ := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, header: resp.Header, body: string(b)}, nil
}

// expect is a check for waitFor: the request gives status and a body containing want.
func expect(method, url, tokenB64 string, status int, want string) func() error {
	return func() error {
		r, err := call(method, url, tokenB64, "", nil)
		if err != nil {
			return err
		}
		if r.status != status || !strings.Contains(r.body, want) {
			return fmt.Errorf("%s %s: %d %s; want %d with %q", method, url, r.status, r.body, status, want)
		}
		return nil
	}
}

func decode(b64 string) string {
	b, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return "not-base64"
	}
	return string(b)
}
