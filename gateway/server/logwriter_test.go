package server_test

import (
	"bytes"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/appapi-dev/appapi/gateway/server"
)

// countingWriter records what reaches the log's destination, and in how
// many writes.
type countingWriter struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	writes int
}

func (w *countingWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.writes++
	return w.buf.Write(p)
}

func (w *countingWriter) state() (string, int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String(), w.writes
}

// writeLines writes n lines from each of g goroutines and returns what
// the destination must hold, per goroutine, in order.
func writeLines(t *testing.T, l *server.LogWriter, g, n int) {
	t.Helper()
	var wg sync.WaitGroup
	for i := range g {
		wg.Go(func() {
			for j := range n {
				if _, err := fmt.Fprintf(l, `{"msg":"request","writer":%d,"seq":%d,"pad":"%s"}`+"\n", i, j, strings.Repeat("x", 60)); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
}

// checkLines says whether out holds every line of writeLines whole and
// each writer's in the order written.
func checkLines(t *testing.T, out string, g, n int) {
	t.Helper()
	next := make([]int, g)
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	for _, line := range lines {
		var i, j int
		if _, err := fmt.Sscanf(line, `{"msg":"request","writer":%d,"seq":%d,`, &i, &j); err != nil || !strings.HasSuffix(line, `"}`) {
			t.Fatalf("line not whole: %q", line)
		}
		if j != next[i] {
			t.Fatalf("writer %d: line %d arrived when %d was due", i, j, next[i])
		}
		next[i]++
	}
	if len(lines) != g*n {
		t.Fatalf("%d lines, want %d", len(lines), g*n)
	}
}

// TestLogWriterFlushesOnClose: nothing is lost, lines stay whole and in
// order, and they reach the destination in far fewer writes than lines.
func TestLogWriterFlushesOnClose(t *testing.T) {
	const g, n = 8, 500
	dst := &countingWriter{}
	// The interval is long enough never to pass in a test: only a full
	// buffer and Close write.
	l := server.NewLogWriter(dst, time.Hour)
	writeLines(t, l, g, n)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	out, writes := dst.state()
	checkLines(t, out, g, n)
	if max := len(out)/(64<<10) + 1; writes > max {
		t.Errorf("%d writes for %d lines (%d bytes); want at most %d", writes, g*n, len(out), max)
	}
}

// TestLogWriterFlushesPeriodically: lines arrive without Close, once the
// interval has passed.
func TestLogWriterFlushesPeriodically(t *testing.T) {
	const g, n = 2, 10
	dst := &countingWriter{}
	l := server.NewLogWriter(dst, 5*time.Millisecond)
	t.Cleanup(func() { _ = l.Close() })
	writeLines(t, l, g, n)
	for {
		out, _ := dst.state()
		if strings.Count(out, "\n") == g*n {
			checkLines(t, out, g, n)
			return
		}
		// The test's own deadline bounds the wait.
		time.Sleep(time.Millisecond)
	}
}

// TestAccessLogLine pins the access log line's fields, their order and
// their JSON types, which log pipelines parse.
func TestAccessLogLine(t *testing.T) {
	f := newFixture(t, genSnapshot(1))
	f.do(t, "GET", "/gen", http.Header{"X-Request-Id": {"line-1"}}, nil).wantOK(t)
	f.accessLog(t, "line-1")
	want := regexp.MustCompile(`^\{"time":"[^"]+","level":"INFO","msg":"request","method":"GET","path":"/gen","appapi":"gen",` +
		`"status":200,"duration_ms":[0-9.e-]+,"bytes":[1-9][0-9]*,"token":"","request_id":"line-1"\}$`)
	for line := range strings.SplitSeq(f.log.String(), "\n") {
		if strings.Contains(line, `"request_id":"line-1"`) {
			if !want.MatchString(line) {
				t.Errorf("access log line\n%s\ndoes not match\n%s", line, want)
			}
			return
		}
	}
	t.Fatalf("no access log line for line-1 in\n%s", f.log.String())
}
