package server_test

import (
	"bytes"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/appapi-dev/appapi/api/v1alpha1"
	"github.com/appapi-dev/appapi/gateway/server"
)

// heapSampler records the largest HeapInuse seen while it runs, above the
// heap at its start.
type heapSampler struct {
	base uint64
	peak atomic.Uint64
	stop chan struct{}
	done chan struct{}
}

func sampleHeap() *heapSampler {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	s := &heapSampler{base: m.HeapInuse, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		var m runtime.MemStats
		for {
			runtime.ReadMemStats(&m)
			if m.HeapInuse > s.peak.Load() {
				s.peak.Store(m.HeapInuse)
			}
			select {
			case <-s.stop:
				return
			case <-time.After(200 * time.Microsecond):
			}
		}
	}()
	return s
}

// growth stops the sampler and returns the peak's growth over the start.
func (s *heapSampler) growth() int64 {
	close(s.stop)
	<-s.done
	return int64(s.peak.Load()) - int64(s.base)
}

// fill repeats unit between prefix and suffix to about size bytes.
func fill(size int, prefix, unit, suffix string) []byte {
	return []byte(prefix + strings.Repeat(unit, (size-len(prefix)-len(suffix))/len(unit)) + suffix)
}

// jsonKeys is an object of distinct short keys, about size bytes.
func jsonKeys(size int) []byte {
	var b bytes.Buffer
	b.WriteString("{")
	for i := 0; b.Len() < size-16; i++ {
		fmt.Fprintf(&b, "%q:1,", fmt.Sprintf("%x", i))
	}
	b.WriteString(`"":1}`)
	return b.Bytes()
}

// worstBodies are the most expensive bodies per byte found for each kind,
// with the route that decodes them and echoes what it can.
func worstBodies(size int) []struct {
	name, path, contentType string
	body                    []byte
} {
	return []struct {
		name, path, contentType string
		body                    []byte
	}{
		{"JSON array of small numbers", "/echo", "application/json", fill(size, "[", "1,", "1]")},
		{"JSON nested empty arrays", "/echo", "application/json", fill(size, "[", "[],", "[]]")},
		{"JSON object of distinct keys", "/echo", "application/json", jsonKeys(size)},
		{"JSON string", "/echo", "application/json", fill(size, `["`, "a", `"]`)},
		{"form of 10,000 fields", "/echo", "application/x-www-form-urlencoded", []byte(strings.Repeat("a="+strings.Repeat("x", size/10_000-3)+"&", 9_999) + "a=")},
		{"text", "/echo", "text/plain", fill(size, "", "a", "")},
		{"XML of empty elements", "/xml", "application/xml", fill(size, "<a>", "<b/>", "</a>")},
		{"XML of elements with an attribute", "/xml", "application/xml", fill(size, "<a>", "<b c=''/>", "</a>")},
	}
}

func memoryFixture(t *testing.T, limits server.Limits) *fixture {
	xml := openRoute("xml", "POST", "/xml", "", v1alpha1.Step{Name: "parse", XMLToJSON: &v1alpha1.XMLToJSONOperation{Value: "request.text"}})
	xml.Response = v1alpha1.Response{}
	snap := newSnapshot(1, xml, openRoute("echo", "POST", "/echo", `request.body`), openRoute("ping", "GET", "/ping", `'pong'`))
	snap.Settings.MaxRequestBytes = 5 << 20
	return newLimitedFixture(t, snap, limits)
}

// TestBodyCostCoversMeasuredPeak: for the worst body of each kind, the
// cost model charges at least the heap that serving it grows by at its
// peak. The collector runs at GOGC=10: with --memory-limit it collects
// that eagerly near the limit, which is where the budget matters. The
// multiples logged are those docs/security.md states.
func TestBodyCostCoversMeasuredPeak(t *testing.T) {
	if raceDetector {
		t.Skip("the race detector's shadow memory inflates the heap this test measures; run it without -race")
	}
	f := memoryFixture(t, server.DefaultLimits())
	defer debug.SetGCPercent(debug.SetGCPercent(10))
	// The multiples hardly change with the size; docs/security.md has
	// them for 5 MiB, the default maxRequestBytes.
	const size = 2 << 20
	for _, tc := range worstBodies(size) {
		// The least peak of three: what the request keeps alive is the
		// same each time, while a collector that falls behind on a busy
		// machine (other test binaries run beside this one) only adds to
		// a run's peak.
		var rec *httptest.ResponseRecorder
		peak := int64(math.MaxInt64)
		for range 3 {
			req := httptest.NewRequest("POST", tc.path, bytes.NewReader(tc.body))
			req.Header.Set("Content-Type", tc.contentType)
			rec = httptest.NewRecorder()
			s := sampleHeap()
			f.gw.ServeHTTP(rec, req)
			peak = min(peak, s.growth())
		}
		cost := server.BodyCost(tc.contentType, tc.body)
		t.Logf("%-34s %d: peak heap growth %6.1f MB (%4.1fx the body), charged %6.1f MB (%4.1fx)",
			tc.name, rec.Code, float64(peak)/1e6, float64(peak)/float64(len(tc.body)), float64(cost)/1e6, float64(cost)/float64(len(tc.body)))
		if rec.Code != http.StatusOK {
			t.Errorf("%s: status %d: %.300s", tc.name, rec.Code, rec.Body)
		}
		if cost < peak {
			t.Errorf("%s: charged %d bytes, but the heap grew by %d", tc.name, cost, peak)
		}
	}
}

// TestMemoryBudget: 16 concurrent 5 MiB JSON arrays of small numbers, the
// worst JSON per byte, keep the heap's growth within the budget, each gets
// its answer or 503 Overloaded with Retry-After, and requests without a
// body are served all along.
func TestMemoryBudget(t *testing.T) {
	const budget = 256 << 20
	l := server.DefaultLimits()
	l.MemoryLimit = budget
	f := memoryFixture(t, l)
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(budget))
	body := fill(5<<20, "[", "1,", "1]")
	s := sampleHeap()
	var wg sync.WaitGroup
	var served, shed atomic.Int32
	for range 16 {
		wg.Go(func() {
			r := f.do(t, "POST", "/echo", http.Header{"Content-Type": {"application/json"}}, bytes.NewReader(body))
			switch r.StatusCode {
			case http.StatusOK:
				if !bytes.Equal(bytes.TrimSpace(r.body), body) {
					t.Errorf("the echo differs from the body")
				}
				served.Add(1)
			default:
				if p := r.wantProblem(t, http.StatusServiceUnavailable); p.Title != "Overloaded" || r.Header.Get("Retry-After") != "1" {
					t.Errorf("problem %+v, Retry-After %q", p, r.Header.Get("Retry-After"))
				}
				shed.Add(1)
			}
		})
	}
	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()
	pings := 0
	for done := false; !done; pings++ {
		select {
		case <-finished:
			done = true
		default:
		}
		f.servesPing(t)()
	}
	growth := s.growth()
	t.Logf("%d served, %d shed, %d pings answered; heap grew by %d MiB at most (budget %d MiB)", served.Load(), shed.Load(), pings, growth>>20, budget>>20)
	if growth > budget {
		t.Errorf("the heap grew by %d MiB, beyond the budget of %d MiB", growth>>20, budget>>20)
	}
	if served.Load() == 0 {
		t.Errorf("no body was served")
	}
	// Once they are done, the budget is whole again.
	r := f.do(t, "POST", "/echo", http.Header{"Content-Type": {"application/json"}}, bytes.NewReader(body))
	if r.StatusCode != http.StatusOK {
		t.Errorf("a body after the others: %d %.300s", r.StatusCode, r.body)
	}
}

// TestBodyBeyondBudget: a body whose cost exceeds the whole budget can
// never be served, so it gets 413, not a 503 to retry.
func TestBodyBeyondBudget(t *testing.T) {
	l := server.DefaultLimits()
	l.MemoryLimit = 64 << 20
	f := memoryFixture(t, l)
	r := f.do(t, "POST", "/echo", http.Header{"Content-Type": {"application/json"}}, bytes.NewReader(fill(5<<20, "[", "1,", "1]")))
	p := r.wantProblem(t, http.StatusRequestEntityTooLarge)
	if !strings.Contains(p.Detail, "more than the gateway's memory limit of 64 MiB") {
		t.Errorf("detail %q", p.Detail)
	}
	f.servesPing(t)()
}
