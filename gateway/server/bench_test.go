package server_test

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/appapi-dev/appapi/api/v1alpha1"
	"github.com/appapi-dev/appapi/gateway/metrics"
	"github.com/appapi-dev/appapi/gateway/server"
	"github.com/appapi-dev/appapi/internal/snapshot"
	"github.com/appapi-dev/appapi/internal/testutil"
)

// benchToken has the length of a minted token.
const benchToken = "eyJhbGciOiJFZERTQSIsInR5cCI6IkpXVCJ9.eyJqdGkiOiIwMTkwYjQ3YyIsInN1YiI6ImJlbmNoIn0.c2lnbmF0dXJlLW9mLXR5cGljYWwtbGVuZ3RoLTAxMjM0NTY3ODk"

const benchPath = "/tenants/acme/orders/ord-829104"

// benchBody is what both handlers answer.
var benchBody = []byte(`{"caller":"bench","id":"ord-829104","region":"eu-west","tenant":"acme"}` + "\n")

// benchGateway serves one authenticated route running one transform step,
// in an environment of 1,000 tokens. Its access log is formatted and discarded.
func benchGateway(b *testing.B) *server.Gateway {
	b.Helper()
	route := snapshot.Route{
		Name: "order", Generation: 1, Method: "GET", Path: "/tenants/{tenant}/orders/{orderId}",
		Authentication: v1alpha1.Authentication{Mode: v1alpha1.AuthenticationToken, AllowedTokens: []string{"bench", "other"}},
		Steps: []v1alpha1.Step{testutil.TransformStep("order",
			`{'id': request.params.orderId, 'tenant': request.params.tenant, 'caller': token.name, 'region': vars.region}`)},
		Response: v1alpha1.Response{Body: `steps.order`},
	}
	snap := newSnapshot(1, route)
	for i := range 999 {
		snap.Credentials.Tokens = append(snap.Credentials.Tokens,
			snapshot.Token{Name: "other", ID: strconv.Itoa(i), Hash: snapshot.HashToken(fmt.Sprint("token-", i))})
	}
	snap.Credentials.Tokens = append(snap.Credentials.Tokens, snapshot.Token{Name: "bench", ID: "b", Hash: snapshot.HashToken(benchToken)})
	gw, err := server.New(slog.New(slog.NewJSONHandler(io.Discard, nil)), metrics.New())
	if err != nil {
		b.Fatal(err)
	}
	if err := gw.Load(snap); err != nil {
		b.Fatal(err)
	}
	return gw
}

// BenchmarkRequest measures a whole request through net/http on loopback,
// client included, one request at a time over a kept-alive connection.
// baseline-nethttp is the same client against a handler that writes the
// same body, so that the gateway's cost reads as a ratio from one run.
func BenchmarkRequest(b *testing.B) {
	baseline := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Content-Length", strconv.Itoa(len(benchBody)))
		_, _ = w.Write(benchBody)
	})
	for _, bb := range []struct {
		name    string
		handler func(*testing.B) http.Handler
	}{
		{"transform-authenticated", func(b *testing.B) http.Handler { return benchGateway(b) }},
		{"baseline-nethttp", func(*testing.B) http.Handler { return baseline }},
	} {
		b.Run(bb.name, func(b *testing.B) {
			srv := httptest.NewServer(bb.handler(b))
			defer srv.Close()
			transport := &http.Transport{MaxIdleConns: 4, MaxIdleConnsPerHost: 4}
			defer transport.CloseIdleConnections()
			client := &http.Client{Transport: transport}
			req, err := http.NewRequest("GET", srv.URL+benchPath, nil)
			if err != nil {
				b.Fatal(err)
			}
			req.Header.Set("Authorization", "Bearer "+benchToken)

			// Both answer the same body before anything is measured.
			resp, err := client.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			got, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode != 200 || !bytes.Equal(got, benchBody) {
				b.Fatalf("%d %s, want 200 %s", resp.StatusCode, got, benchBody)
			}

			b.ReportAllocs()
			for b.Loop() {
				resp, err := client.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				n, err := io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
				if err != nil || resp.StatusCode != 200 || n != int64(len(benchBody)) {
					b.Fatalf("status %d, %d bytes, %v", resp.StatusCode, n, err)
				}
			}
		})
	}
}

// BenchmarkServeHTTP is the gateway's handler alone, without sockets or an
// HTTP client: what the gateway itself adds to BenchmarkRequest.
func BenchmarkServeHTTP(b *testing.B) {
	gw := benchGateway(b)
	req := httptest.NewRequest("GET", benchPath, nil)
	req.Header.Set("Authorization", "Bearer "+benchToken)
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		gw.ServeHTTP(rec, req)
		if rec.Code != 200 || rec.Body.Len() != len(benchBody) {
			b.Fatalf("%d %s", rec.Code, rec.Body)
		}
	}
}

// upstreamBody is what the upstream of BenchmarkServeHTTPUpstream answers.
var upstreamBody = []byte(`{"animal":{"id":1,"name":"Rex","type":"Dog","breeds":{"primary":"Labrador","secondary":null},"age":"Adult","status":"adoptable","tags":["friendly","house-trained"],"contact":{"email":"shelter@example.com","phone":"555-0100"}}}` + "\n")

// BenchmarkServeHTTPUpstream is the gateway's handler running an http step
// against a loopback upstream that answers fixed JSON, and a transform of
// its answer: the proxy path, with the upstream client's costs included.
func BenchmarkServeHTTPUpstream(b *testing.B) {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Content-Length", strconv.Itoa(len(upstreamBody)))
		_, _ = w.Write(upstreamBody)
	}))
	defer upstream.Close()
	snap := newSnapshot(1, openRoute("pet", "GET", "/pets/{petId}", `steps.view`,
		testutil.HTTPStep("pet", v1alpha1.HTTPOperation{URL: "{{ vars.upstream }}/v2/animals/{{ request.params.petId }}"}),
		testutil.TransformStep("view", `cel.bind(a, steps.pet.body.animal, {'id': a.id, 'name': a.name, 'species': a.type, `+
			`'breed': a.breeds.primary, 'age': a.age, 'adoptable': a.status == 'adoptable'})`)))
	snap.Variables["upstream"] = upstream.URL
	gw, err := server.New(slog.New(slog.NewJSONHandler(io.Discard, nil)), metrics.New())
	if err != nil {
		b.Fatal(err)
	}
	if err := gw.Load(snap); err != nil {
		b.Fatal(err)
	}
	want := `{"adoptable":true,"age":"Adult","breed":"Labrador","id":1,"name":"Rex","species":"Dog"}` + "\n"
	req := httptest.NewRequest("GET", "/pets/1", nil)
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		gw.ServeHTTP(rec, req)
		if rec.Code != 200 || rec.Body.String() != want {
			b.Fatalf("%d %s", rec.Code, rec.Body)
		}
	}
}
