//go:build e2e

package e2e

import (
	"bufio"
	"bytes"
	"net"
	"net/url"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"k8s.io/client-go/tools/clientcmd"

	"github.com/appapi-dev/appapi/internal/testutil"
)

// TestDemo runs `make demo`'s program as a newcomer would: it must reach
// "ready", every curl line it prints must work, and Ctrl-C must leave no
// process behind.
func TestDemo(t *testing.T) {
	work := t.TempDir()
	cmd := exec.Command(filepath.Join(root, "bin", "demo"), "--root", root, "--work-dir", work)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out := &testutil.SyncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start bin/demo (make build): %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }()

	start := time.Now()
	for !strings.Contains(out.String(), "Press Ctrl-C") {
		select {
		case err := <-exited:
			t.Fatalf("the demo exited (%v):\n%s", err, out.String())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Since(start) > 3*time.Minute {
			t.Fatalf("the demo did not get ready:\n%s", out.String())
		}
	}
	t.Logf("demo ready after %s", time.Since(start))

	var exports, curls []string
	scanner := bufio.NewScanner(strings.NewReader(out.String()))
	for scanner.Scan() {
		line := strings.TrimSpace(scanner.Text())
		switch {
		case strings.HasPrefix(line, "export TOKEN_"):
			exports = append(exports, line[:strings.Index(line, "   #")])
		case strings.HasPrefix(line, "curl "):
			curls = append(curls, line)
		}
	}
	if len(curls) < 7 || len(exports) < 4 {
		t.Fatalf("the demo printed %d curl lines and %d tokens:\n%s", len(curls), len(exports), out.String())
	}
	for _, c := range curls {
		script := strings.Join(exports, "\n") + "\n" + c + " | head -n 1"
		status, err := exec.Command("bash", "-c", script).Output()
		s := string(bytes.TrimSpace(status))
		if err != nil || !(strings.HasPrefix(s, "HTTP/1.1 2") || strings.HasPrefix(s, "HTTP/1.1 3")) {
			t.Errorf("%s\n  -> %q %v", c, s, err)
		}
	}

	apiserver := apiServerAddress(t, filepath.Join(work, "kubeconfig"))
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case <-exited:
	case <-time.After(time.Minute):
		t.Fatalf("the demo did not stop after Ctrl-C:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "appapi demo: stopped") {
		t.Errorf("the demo did not say it stopped:\n%s", out.String())
	}
	// The manager and the gateways have the work directory in their
	// arguments; the API server is gone when its port is closed.
	if left, _ := exec.Command("pgrep", "-f", work).Output(); len(bytes.TrimSpace(left)) > 0 {
		t.Errorf("processes left behind: %s", left)
	}
	if conn, err := net.DialTimeout("tcp", apiserver, time.Second); err == nil {
		_ = conn.Close()
		t.Errorf("the API server at %s still answers after Ctrl-C", apiserver)
	}
}

func apiServerAddress(t *testing.T, kubeconfig string) string {
	t.Helper()
	cfg, err := clientcmd.LoadFromFile(kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(cfg.Clusters[cfg.Contexts[cfg.CurrentContext].Cluster].Server)
	if err != nil {
		t.Fatal(err)
	}
	return u.Host
}
