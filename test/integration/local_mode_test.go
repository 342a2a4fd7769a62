package integration

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/appapi-dev/appapi/gateway/local"
	"github.com/appapi-dev/appapi/gateway/metrics"
	"github.com/appapi-dev/appapi/gateway/server"
)

const localEnvironment = `apiVersion: appapi.dev/v1alpha1
kind: Environment
metadata: {name: dev}
spec: {}
`

// greeting is an AppAPI answering word at /hello; body replaces its
// response body expression when set.
func greeting(word, body string) string {
	if body == "" {
		body = "'" + word + " ' + request.params.name"
	}
	return `apiVersion: appapi.dev/v1alpha1
kind: AppAPI
metadata: {name: hello}
spec:
  environment: dev
  method: GET
  path: /hello/{name}
  authentication: {mode: None}
  response:
    body: "` + body + `"
---
apiVersion: appapi.dev/v1alpha1
kind: AppAPI
metadata: {name: bye}
spec:
  environment: dev
  method: GET
  path: /bye
  authentication: {mode: None}
  response: {body: "'bye ` + word + `'"}
`
}

// TestLocalModeKeepsServingThroughBrokenEdits runs local mode as the
// gateway binary does (Loader, Watch and server.Gateway, on a loopback
// port), breaks a served file's YAML and then one AppAPI's expression, and
// shows that the previous version answers each time, until the fix.
func TestLocalModeKeepsServingThroughBrokenEdits(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("env.yaml", localEnvironment)
	write("hello.yaml", greeting("hello", ""))
	base, warnings := startLocalGateway(t, dir)

	poll(t, "v1 answers", func() error { return expect(base+"/hello/ada", "", 200, "hello ada") })

	// A YAML syntax error, in the same save as a good edit of bye: the
	// whole file's previous version keeps answering.
	write("hello.yaml", strings.Replace(greeting("salut", ""), "  path: /hello/{name}\n", "  path: /hello/{name}\n  query: [\n", 1))
	warnings.await(t, "hello.yaml:9: not valid YAML or JSON")
	warnings.await(t, "hello.yaml: not loaded; its previous version keeps serving")
	for _, check := range []func() error{
		func() error { return expect(base+"/hello/ada", "", 200, "hello ada") },
		func() error { return expect(base+"/bye", "", 200, "bye hello") },
	} {
		if err := check(); err != nil {
			t.Fatalf("after a YAML syntax error: %v", err)
		}
	}

	write("hello.yaml", greeting("salut", ""))
	poll(t, "the fixed file answers", func() error { return expect(base+"/hello/ada", "", 200, "salut ada") })

	// An expression that does not compile: that AppAPI's previous version
	// keeps answering, and the rest of the file is the new one.
	write("hello.yaml", greeting("ciao", "'ciao ' + "))
	warnings.await(t, `hello.yaml:1: AppAPI "hello" is refused (InvalidExpression)`)
	poll(t, "the good edit of the same file answers", func() error { return expect(base+"/bye", "", 200, "bye ciao") })
	if err := expect(base+"/hello/ada", "", 200, "salut ada"); err != nil {
		t.Fatalf("after a refused expression: %v", err)
	}

	write("hello.yaml", greeting("ciao", ""))
	poll(t, "the fixed AppAPI answers", func() error { return expect(base+"/hello/ada", "", 200, "ciao ada") })
}

// logBuffer collects the warnings of every load.
type logBuffer struct {
	mu    sync.Mutex
	lines []string
}

func (b *logBuffer) add(lines []string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.lines = append(b.lines, lines...)
}

// await waits for a warning starting with prefix, and forgets what came
// before it.
func (b *logBuffer) await(t *testing.T, prefix string) {
	t.Helper()
	poll(t, "a warning "+prefix, func() error {
		b.mu.Lock()
		defer b.mu.Unlock()
		for i, l := range b.lines {
			if strings.HasPrefix(l, prefix) {
				b.lines = b.lines[i+1:]
				return nil
			}
		}
		return io.EOF
	})
}

// startLocalGateway serves dir in local mode on a loopback port, reloading
// on every change as cmd/gateway does, and returns its URL and warnings.
func startLocalGateway(t *testing.T, dir string) (string, *logBuffer) {
	t.Helper()
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	gw, err := server.New(log, metrics.New())
	if err != nil {
		t.Fatal(err)
	}
	loader := &local.Loader{Dir: dir, StateDir: t.TempDir(), Out: io.Discard}
	warnings := &logBuffer{}
	reload := func() {
		res, err := loader.Load()
		if res != nil {
			warnings.add(res.Warnings)
		}
		if err == nil {
			err = gw.Load(res.Snapshot)
		}
		if err != nil {
			warnings.add([]string{"error: " + err.Error()})
		}
	}
	watcher := local.NewWatcher(dir)
	reload()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		watcher.Run(ctx, 20*time.Millisecond, reload)
	}()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: gw, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() {
		_ = srv.Close()
		cancel()
		<-done
	})
	return "http://" + ln.Addr().String(), warnings
}
