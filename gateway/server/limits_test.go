package server_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/appapi-dev/appapi/api/v1alpha1"
	"github.com/appapi-dev/appapi/gateway/server"
	"github.com/appapi-dev/appapi/internal/snapshot"
	"github.com/appapi-dev/appapi/internal/testutil"
)

// slotsFixture serves /hang, whose upstream answers when release is
// closed, /ping, /echo and /triple (its text body three times over, an
// answer too large for the sockets' buffers), with the given limits.
func slotsFixture(t *testing.T, limits server.Limits, timeout time.Duration) (f *fixture, release chan struct{}) {
	t.Helper()
	release = make(chan struct{})
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
		_, _ = io.WriteString(w, `"done"`)
	}))
	t.Cleanup(upstream.Close)
	t.Cleanup(func() {
		select {
		case <-release:
		default:
			close(release)
		}
	})
	snap := newSnapshot(1,
		openRoute("hang", "GET", "/hang", `steps.call.body`, testutil.HTTPStep("call", v1alpha1.HTTPOperation{URL: upstream.URL + "/"})),
		openRoute("ping", "GET", "/ping", `'pong'`),
		openRoute("echo", "POST", "/echo", `request.body`),
		openRoute("triple", "POST", "/triple", `[request.text, request.text, request.text]`))
	snap.Settings.MaxRequestBytes = 5 << 20
	snap.Settings.RequestTimeout = snapshot.Duration(timeout)
	return newLimitedFixture(t, snap, limits), release
}

func limits(maxInFlight int) server.Limits {
	l := server.DefaultLimits()
	l.MaxInFlight = maxInFlight
	return l
}

// eventually polls, generously, until try succeeds: how soon is for the
// benchmarks, whether is for the test.
func eventually(t *testing.T, what string, try func() error) {
	t.Helper()
	var err error
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if err = try(); err == nil {
			return
		}
	}
	t.Fatalf("%s: %v", what, err)
}

// servesPing is a try for eventually: GET /ping answers 200.
func (f *fixture) servesPing(t *testing.T) func() error {
	return func() error {
		r := f.do(t, "GET", "/ping", nil, nil)
		if r.StatusCode != http.StatusOK || string(r.body) != "\"pong\"\n" {
			return fmt.Errorf("GET /ping: %d %s", r.StatusCode, r.body)
		}
		return nil
	}
}

// TestLimitInFlight: past the limit a pipeline gets 503 with Retry-After
// at once, and is served again when a slot frees.
func TestLimitInFlight(t *testing.T) {
	f, release := slotsFixture(t, limits(1), 10*time.Second)
	done := make(chan reply, 1)
	hang := func() { go func() { done <- f.do(t, "GET", "/hang", nil, nil) }() }
	hang()
	eventually(t, "the first request holds the slot", func() error {
		select {
		case r := <-done:
			// A poll held the one slot when /hang arrived: it was shed.
			if r.StatusCode != http.StatusServiceUnavailable {
				t.Fatalf("GET /hang: %d %s before its upstream answered", r.StatusCode, r.body)
			}
			hang()
			return errors.New("GET /hang was shed by a poll; sent again")
		default:
		}
		r := f.do(t, "GET", "/ping", nil, nil)
		if r.StatusCode != http.StatusServiceUnavailable {
			return fmt.Errorf("GET /ping: %d, want 503", r.StatusCode)
		}
		return nil
	})
	// Like every other answer, the 503 carries the request ID (wantProblem
	// checks that the header and the document agree).
	r := f.do(t, "GET", "/ping", http.Header{"X-Request-Id": {"caller-chosen-1"}}, nil)
	p := r.wantProblem(t, http.StatusServiceUnavailable)
	if r.Header.Get("Retry-After") != "1" || p.Title != "Overloaded" || p.Instance != "/ping" || p.RequestID != "caller-chosen-1" {
		t.Fatalf("second request: %v %s", r.Header, r.body)
	}
	if shed := f.counterValue(t, "appapi_gateway_requests_shed_total", nil); shed < 2 {
		t.Errorf("requests_shed_total = %v, want at least 2", shed)
	}
	// Answers without a pipeline need no slot.
	f.do(t, "GET", "/nowhere", nil, nil).wantProblem(t, http.StatusNotFound)
	close(release)
	if r := <-done; r.StatusCode != http.StatusOK {
		t.Fatalf("first request: %d %s", r.StatusCode, r.body)
	}
	f.servesPing(t)()
}

// dialRaw opens a connection to the gateway and writes a request head and
// the start of its body.
func dialRaw(t *testing.T, f *fixture, head, body string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(f.srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	if _, err := io.WriteString(c, head+"\r\n"+body); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestSlowBodiesDoNotHoldSlots: 64 connections that each send one byte of
// a declared 100-byte body, against 4 pipeline slots and no idle timeout
// to speak of, do not keep requests with or without bodies from being
// served; bodies are read outside the slots.
func TestSlowBodiesDoNotHoldSlots(t *testing.T) {
	l := limits(4)
	l.BodyIdleTimeout = time.Minute
	f, _ := slotsFixture(t, l, time.Minute)
	for range 64 {
		dialRaw(t, f, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n", "[")
	}
	eventually(t, "a GET while 64 bodies trickle in", f.servesPing(t))
	r := f.do(t, "POST", "/echo", http.Header{"Content-Type": {"application/json"}}, strings.NewReader(`{"a":1}`))
	if r.StatusCode != http.StatusOK || string(r.body) != "{\"a\":1}\n" {
		t.Fatalf("POST /echo while 64 bodies trickle in: %d %s", r.StatusCode, r.body)
	}
}

// TestBodyIdleTimeout: a body that pauses for longer than the idle timeout
// gets 408 saying so, long before the request timeout.
func TestBodyIdleTimeout(t *testing.T) {
	l := limits(4)
	l.BodyIdleTimeout = 100 * time.Millisecond
	f, _ := slotsFixture(t, l, time.Hour)
	c := dialRaw(t, f, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\nX-Request-Id: slow-1\r\n", "[")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	p := reply{resp, body}.wantProblem(t, http.StatusRequestTimeout)
	if p.Detail != "the request body paused for more than 100ms" || p.RequestID != "slow-1" {
		t.Errorf("problem %+v", p)
	}
	f.servesPing(t)()
}

// TestNonReadingClientsDoNotHoldSlots: connections that never read their
// large answers do not hold pipeline slots, and the write deadline (the
// request timeout plus the grace) closes them with the answer cut short.
func TestNonReadingClientsDoNotHoldSlots(t *testing.T) {
	l := limits(4)
	l.WriteGrace = 500 * time.Millisecond
	f, _ := slotsFixture(t, l, time.Second)
	text := strings.Repeat("a", 4<<20)
	var conns []net.Conn
	for i := range 4 {
		conns = append(conns, dialRaw(t, f, fmt.Sprintf("POST /triple HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: %d\r\nX-Request-Id: stuck-%d\r\n", len(text), i), text))
	}
	eventually(t, "a GET while 4 answers are not read", f.servesPing(t))
	for i, c := range conns {
		// The handler returns once the write deadline ends its write.
		f.accessLog(t, fmt.Sprintf("stuck-%d", i))
		n, _ := io.Copy(io.Discard, c)
		if n >= 3*int64(len(text)) {
			t.Errorf("connection %d read %d bytes: the whole answer, after its write deadline", i, n)
		}
	}
}
