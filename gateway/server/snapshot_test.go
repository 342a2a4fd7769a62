package server_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/appapi-dev/appapi/api/v1alpha1"
	"github.com/appapi-dev/appapi/internal/snapshot"
	"github.com/appapi-dev/appapi/internal/testutil"
)

// genSnapshot is generation gen of an environment whose one route answers
// the generation it was served from.
func genSnapshot(gen int64, extra ...snapshot.Route) *snapshot.Snapshot {
	s := newSnapshot(gen, append([]snapshot.Route{openRoute("gen", "GET", "/gen", `{'gen': int(vars.gen)}`)}, extra...)...)
	s.Variables = map[string]string{"gen": strconv.FormatInt(gen, 10)}
	return s
}

// servedGeneration asks the gateway which generation answers.
func servedGeneration(t testing.TB, f *fixture) float64 {
	t.Helper()
	return f.do(t, "GET", "/gen", nil, nil).wantOK(t)["gen"].(float64)
}

func TestAdminBeforeAndAfterLoad(t *testing.T) {
	f := newFixture(t, nil)
	admin := httptest.NewServer(f.gw.AdminHandler())
	t.Cleanup(admin.Close)
	get := func(t *testing.T, path string) reply { return send(t, admin.Client(), "GET", admin.URL+path, nil, nil) }

	// Before the first snapshot.
	for _, path := range []string{"/gen", "/anything", "/"} {
		for _, method := range []string{"GET", "POST"} {
			p := f.do(t, method, path, nil, nil).wantProblem(t, http.StatusServiceUnavailable)
			if p.Title != "No configuration" {
				t.Errorf("%s %s: title %q", method, path, p.Title)
			}
		}
	}
	for path, status := range map[string]int{"/healthz": 200, "/readyz": 503, "/openapi.json": 503} {
		if r := get(t, path); r.StatusCode != status {
			t.Errorf("before Load: %s = %d, want %d", path, r.StatusCode, status)
		}
	}
	if err := f.gw.Ready(); err == nil {
		t.Errorf("Ready() = nil before Load")
	}

	if err := f.gw.Load(genSnapshot(7)); err != nil {
		t.Fatal(err)
	}
	if got := servedGeneration(t, f); got != 7 {
		t.Errorf("served generation %v, want 7", got)
	}
	for _, path := range []string{"/healthz", "/readyz"} {
		if r := get(t, path); r.StatusCode != 200 || string(r.body) != "ok\n" {
			t.Errorf("after Load: %s = %d %q, want 200 ok", path, r.StatusCode, r.body)
		}
	}

	r := get(t, "/metrics")
	if r.StatusCode != 200 {
		t.Fatalf("/metrics = %d", r.StatusCode)
	}
	metricsText := string(r.body)
	for _, want := range []string{
		`appapi_gateway_requests_total{appapi="gen",code="200",method="GET"} 1`,
		`appapi_gateway_requests_total{appapi="",code="503",method="GET"} 3`,
		`appapi_gateway_snapshot_generation 7`,
		`appapi_gateway_snapshot_reloads_total{result="loaded"} 1`,
		`appapi_gateway_routes 1`,
		`appapi_gateway_request_duration_seconds_bucket{appapi="gen",`,
	} {
		if !strings.Contains(metricsText, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}

	r = get(t, "/openapi.json")
	if r.StatusCode != 200 {
		t.Fatalf("/openapi.json = %d", r.StatusCode)
	}
	var doc struct {
		OpenAPI string                     `json:"openapi"`
		Paths   map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(r.body, &doc); err != nil {
		t.Fatalf("/openapi.json is not JSON: %v", err)
	}
	if doc.OpenAPI != "3.1.0" {
		t.Errorf("openapi = %q, want 3.1.0", doc.OpenAPI)
	}
	if _, ok := doc.Paths["/gen"]; !ok {
		t.Errorf("the document has no /gen path: %s", r.body)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("/openapi.json Content-Type = %q", ct)
	}
}

func TestLoadRefusesAndKeepsServing(t *testing.T) {
	f := newFixture(t, genSnapshot(5))
	rejected := func() float64 {
		return f.counterValue(t, "appapi_gateway_snapshot_reloads_total", map[string]string{"result": "rejected"})
	}
	invalid := []struct {
		name   string
		breaks func(*snapshot.Snapshot)
	}{
		{"unknown version", func(s *snapshot.Snapshot) { s.Version = "appapi.dev/snapshot/v0" }},
		{"no environment", func(s *snapshot.Snapshot) { s.Environment = "" }},
		{"no request limit", func(s *snapshot.Snapshot) { s.Settings.MaxRequestBytes = 0 }},
		{"no timeout", func(s *snapshot.Snapshot) { s.Settings.RequestTimeout = 0 }},
		{"route twice", func(s *snapshot.Snapshot) { s.Routes = append(s.Routes, s.Routes[0]) }},
		{"bad method", func(s *snapshot.Snapshot) { s.Routes[0].Method = "TRACE" }},
		{"bad path", func(s *snapshot.Snapshot) { s.Routes[0].Path = "no-slash" }},
		{"no authentication mode", func(s *snapshot.Snapshot) { s.Routes[0].Authentication.Mode = "" }},
		{"bad token hash", func(s *snapshot.Snapshot) {
			s.Credentials.Tokens = []snapshot.Token{{Name: "a", ID: "1", Hash: "not-a-hash"}}
		}},
		{"call to a missing route", func(s *snapshot.Snapshot) {
			s.Routes[0].Steps = []v1alpha1.Step{{Name: "c", Call: &v1alpha1.CallOperation{AppAPI: "nowhere"}}}
		}},
	}
	for i, tt := range invalid {
		t.Run(tt.name, func(t *testing.T) {
			s := genSnapshot(int64(6 + i))
			tt.breaks(s)
			before := rejected()
			if err := f.gw.Load(s); err == nil {
				t.Fatalf("Load accepted an invalid snapshot")
			}
			if got := servedGeneration(t, f); got != 5 {
				t.Errorf("served generation %v, want 5", got)
			}
			if got := rejected(); got != before+1 {
				t.Errorf("rejected reloads went from %v to %v, want +1", before, got)
			}
		})
	}

	if err := f.gw.Load(genSnapshot(9)); err != nil {
		t.Fatal(err)
	}
	if err := f.gw.Load(genSnapshot(8)); err == nil {
		t.Errorf("Load accepted generation 8 after 9")
	}
	if got := servedGeneration(t, f); got != 9 {
		t.Errorf("served generation %v, want 9", got)
	}
	if got := f.counterValue(t, "appapi_gateway_snapshot_generation", nil); got != 9 {
		t.Errorf("snapshot_generation gauge = %v, want 9", got)
	}
}

// TestLoadLeavesOutRoutesThatDoNotCompile: a route whose expression does not
// compile is reported and left out, and the rest of the snapshot is served.
func TestLoadLeavesOutRoutesThatDoNotCompile(t *testing.T) {
	f := newFixture(t, genSnapshot(1))
	s := genSnapshot(2, openRoute("broken", "GET", "/broken", `{'a': 1 +}`))
	if err := f.gw.Load(s); err != nil {
		t.Fatalf("Load: %v", err)
	}
	if got := servedGeneration(t, f); got != 2 {
		t.Errorf("served generation %v, want 2", got)
	}
	f.do(t, "GET", "/broken", nil, nil).wantProblem(t, http.StatusNotFound)
	if !strings.Contains(f.log.String(), "route left out of the snapshot") {
		t.Errorf("the log does not report the route left out:\n%s", f.log.String())
	}
}

// TestSwapWhileServing swaps snapshots while requests are in flight: every
// request is answered by one whole snapshot, a request that started on an
// old snapshot finishes on it, and no client sees generations go backwards.
// Run it with -race.
func TestSwapWhileServing(t *testing.T) {
	arrived := make(chan struct{}, 1)
	release := make(chan struct{})
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			arrived <- struct{}{}
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"ok": true}`))
	}))
	t.Cleanup(upstream.Close)

	tokenText := "tok-swap-5e1f0a9c2b7d"
	build := func(gen int64) *snapshot.Snapshot {
		slow := openRoute("slow", "GET", "/slow", `{'gen': int(vars.gen), 'ok': steps.call.body.ok}`, testutil.HTTPStep("call", v1alpha1.HTTPOperation{URL: upstream.URL + "/slow"}))
		fast := openRoute("fast", "GET", "/fast/{n}",
			`{'gen': int(vars.gen), 'n': request.params.n, 'caller': token.name, 'ok': steps.call.body.ok}`,
			testutil.HTTPStep("call", v1alpha1.HTTPOperation{URL: upstream.URL + "/fast"}))
		fast.Authentication = v1alpha1.Authentication{Mode: v1alpha1.AuthenticationToken}
		s := genSnapshot(gen, slow, fast)
		s.Credentials.Tokens = []snapshot.Token{{Name: "svc", ID: fmt.Sprint("id-", gen), Hash: snapshot.HashToken(tokenText)}}
		return s
	}
	f := newFixture(t, build(1))
	auth := http.Header{"Authorization": {"Bearer " + tokenText}}

	// A request in flight on generation 1 while generation 2 is loaded.
	slowDone := make(chan map[string]any, 1)
	go func() {
		var body map[string]any
		if resp, err := f.client.Get(f.srv.URL + "/slow"); err == nil {
			_ = json.NewDecoder(resp.Body).Decode(&body)
			_ = resp.Body.Close()
		}
		slowDone <- body
	}()
	select {
	case <-arrived:
	case <-time.After(10 * time.Second):
		t.Fatal("the slow request did not reach the upstream")
	}
	if err := f.gw.Load(build(2)); err != nil {
		t.Fatal(err)
	}
	if got := servedGeneration(t, f); got != 2 {
		t.Fatalf("after Load(2) a new request is served by generation %v", got)
	}
	close(release)
	if body := <-slowDone; body["gen"] != float64(1) || body["ok"] != true {
		t.Errorf("the request in flight during the swap answered %v, want generation 1", body)
	}

	// Many clients while new generations are loaded, until they are done.
	const clients, perClient = 8, 60
	var (
		loaded     atomic.Int64 // the newest generation Load returned; the next one may already serve
		clientsWG  sync.WaitGroup
		loaderDone = make(chan struct{})
		clientsEnd = make(chan struct{})
		errs       = make(chan error, clients+1)
		seenMu     sync.Mutex
		seen       = map[float64]bool{}
	)
	loaded.Store(2)
	go func() {
		defer close(loaderDone)
		for gen := int64(3); ; gen++ {
			select {
			case <-clientsEnd:
				return
			default:
			}
			if err := f.gw.Load(build(gen)); err != nil {
				errs <- err
				return
			}
			loaded.Store(gen)
		}
	}()
	for c := range clients {
		clientsWG.Go(func() {
			client := f.srv.Client()
			prev := float64(0)
			for i := range perClient {
				path := fmt.Sprintf("/fast/%d-%d", c, i)
				req, _ := http.NewRequest("GET", f.srv.URL+path, nil)
				req.Header = auth.Clone()
				resp, err := client.Do(req)
				if err != nil {
					errs <- err
					return
				}
				var body map[string]any
				err = json.NewDecoder(resp.Body).Decode(&body)
				_ = resp.Body.Close()
				if err != nil || resp.StatusCode != 200 {
					errs <- fmt.Errorf("%s: %d %v %v", path, resp.StatusCode, body, err)
					return
				}
				gen, _ := body["gen"].(float64)
				if gen < prev || gen < 2 || gen > float64(loaded.Load()+1) ||
					body["n"] != fmt.Sprintf("%d-%d", c, i) || body["caller"] != "svc" || body["ok"] != true {
					errs <- fmt.Errorf("%s after generation %v: %v", path, prev, body)
					return
				}
				prev = gen
				seenMu.Lock()
				seen[gen] = true
				seenMu.Unlock()
			}
		})
	}
	clientsWG.Wait()
	close(clientsEnd)
	<-loaderDone
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if len(seen) < 2 {
		t.Errorf("the clients saw only generations %v: the swaps did not overlap the requests", seen)
	}
	last := loaded.Load()
	if got := servedGeneration(t, f); got != float64(last) {
		t.Errorf("after the swaps: generation %v, want %d", got, last)
	}
	if got := f.counterValue(t, "appapi_gateway_requests_total", map[string]string{"appapi": "fast", "code": "200"}); got != clients*perClient {
		t.Errorf("requests_total{fast,200} = %v, want %d", got, clients*perClient)
	}
	t.Logf("%d requests saw %d generations; %d generations loaded", clients*perClient, len(seen), last-2)
}
