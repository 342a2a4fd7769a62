package snapshot

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/appapi-dev/appapi/api/v1alpha1"
)

func validSnapshot() *Snapshot {
	return &Snapshot{
		Header: Header{Version: Version, Namespace: "shop", Environment: "prod", Generation: 3, Settings: Settings{MaxRequestBytes: v1alpha1.DefaultMaxRequestBytes, RequestTimeout: Duration(30 * time.Second)}, Variables: map[string]string{"region": "eu"}},
		Routes: []Route{
			{Name: "get-order", Generation: 2, Method: "GET", Path: "/orders/{id}",
				Authentication: v1alpha1.Authentication{Mode: v1alpha1.AuthenticationToken},
				Steps: []v1alpha1.Step{
					{Name: "shape", Transform: &v1alpha1.TransformOperation{Value: "request.params.id"}},
					{Name: "totals", Call: &v1alpha1.CallOperation{AppAPI: "totals"}},
				}},
			{Name: "totals", Generation: 1, Method: "POST", Path: "/totals",
				Authentication: v1alpha1.Authentication{Mode: v1alpha1.AuthenticationNone}},
		},
		Credentials: Credentials{
			Tokens:  []Token{{Name: "ci", ID: "abc", Hash: HashToken("t1")}},
			Secrets: map[string]string{"apiKey": "s3cret"},
		},
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(*Snapshot)
		wantErr []string
	}{
		{name: "valid", mutate: func(*Snapshot) {}},
		{name: "unknown version", mutate: func(s *Snapshot) { s.Version = "v0" }, wantErr: []string{`version "v0"`}},
		{name: "generation zero", mutate: func(s *Snapshot) { s.Generation = 0 }, wantErr: []string{"generation 0"}},
		{name: "no limits", mutate: func(s *Snapshot) { s.Settings = Settings{} }, wantErr: []string{"maxRequestBytes", "requestTimeout"}},
		{name: "duplicate route name", mutate: func(s *Snapshot) { s.Routes[1].Name = "get-order" }, wantErr: []string{"name appears twice"}},
		{name: "same method and path under another parameter name", mutate: func(s *Snapshot) {
			s.Routes[1].Method, s.Routes[1].Path = "GET", "/orders/{orderId}"
		}, wantErr: []string{"is also served by get-order"}},
		{name: "bad method", mutate: func(s *Snapshot) { s.Routes[0].Method = "TRACE" }, wantErr: []string{`method "TRACE"`}},
		{name: "bad path", mutate: func(s *Snapshot) { s.Routes[0].Path = "orders" }, wantErr: []string{"must start with /"}},
		{name: "bad auth mode", mutate: func(s *Snapshot) { s.Routes[0].Authentication.Mode = "Basic" }, wantErr: []string{`mode "Basic"`}},
		{name: "step with two operations", mutate: func(s *Snapshot) {
			s.Routes[0].Steps[0].Wait = &v1alpha1.WaitOperation{Duration: "1s"}
		}, wantErr: []string{"has 2 operations"}},
		{name: "duplicate step", mutate: func(s *Snapshot) { s.Routes[0].Steps[1].Name = "shape" }, wantErr: []string{"appears twice"}},
		{name: "call to a missing route", mutate: func(s *Snapshot) { s.Routes[0].Steps[1].Call.AppAPI = "nope" }, wantErr: []string{`calls "nope"`}},
		{name: "call cycle", mutate: func(s *Snapshot) {
			s.Routes[1].Steps = []v1alpha1.Step{{Name: "back", Call: &v1alpha1.CallOperation{AppAPI: "get-order"}}}
		}, wantErr: []string{"cycle: [get-order totals get-order]"}},
		{name: "bad token hash is not echoed", mutate: func(s *Snapshot) { s.Credentials.Tokens[0].Hash = "SECRET-LOOKING" }, wantErr: []string{"tokens[0] (ci/abc): hash is not"}},
		{name: "duplicate token hash", mutate: func(s *Snapshot) {
			s.Credentials.Tokens = append(s.Credentials.Tokens, Token{Name: "other", ID: "x", Hash: HashToken("t1")})
		}, wantErr: []string{"hash appears twice"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := validSnapshot()
			tt.mutate(s)
			err := s.Validate()
			if len(tt.wantErr) == 0 {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil, want errors %q", tt.wantErr)
			}
			for _, want := range tt.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("Validate() = %v, want it to contain %q", err, want)
				}
			}
			if strings.Contains(err.Error(), "SECRET-LOOKING") {
				t.Errorf("Validate() echoes a token hash: %v", err)
			}
		})
	}
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	s := validSnapshot()
	enc, err := Encode(s)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(enc.Index), "s3cret") || strings.Contains(string(enc.Index), s.Credentials.Tokens[0].Hash) {
		t.Fatalf("index ConfigMap data holds a secret value or token hash: %s", enc.Index)
	}
	got := decode(t, enc)
	if diff := cmp.Diff(s, got); diff != "" {
		t.Fatalf("round trip changed the snapshot (-want +got):\n%s", diff)
	}
}

func TestDecodeRefusesShardThatDoesNotMatchIndex(t *testing.T) {
	s := validSnapshot()
	enc, err := Encode(s)
	if err != nil {
		t.Fatal(err)
	}
	s.Routes[0].Path = "/changed"
	s.Generation++
	newer, err := Encode(s)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := DecodeIndex(enc.Index)
	if err != nil {
		t.Fatal(err)
	}
	// The old index with the new shard: a gateway between two writes.
	if _, err := DecodeShard(idx.Shards[0], newer.Shards[0]); !errors.Is(err, ErrShardMismatch) {
		t.Fatalf("DecodeShard() = %v, want ErrShardMismatch", err)
	}
}

// TestEncodeTenThousandRoutes shows that an Environment with 10,000 AppAPIs
// still fits in its objects, and that an edit rewrites only one shard.
func TestEncodeTenThousandRoutes(t *testing.T) {
	s := validSnapshot()
	s.Routes = nil
	for i := range 10000 {
		s.Routes = append(s.Routes, benchmarkRoute(i))
	}
	enc, err := Encode(s)
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for i, shard := range enc.Shards {
		if len(shard) > MaxShardBytes {
			t.Errorf("shard %d has %d bytes, more than %d", i, len(shard), MaxShardBytes)
		}
		total += len(shard)
	}
	t.Logf("10,000 routes: %d shards, %d compressed bytes in all", len(enc.Shards), total)
	if len(enc.Shards) < 2 {
		t.Fatalf("10,000 routes fit in %d shard; the test no longer exercises sharding", len(enc.Shards))
	}
	if got := decode(t, enc); len(got.Routes) != 10000 {
		t.Fatalf("decoded %d routes, want 10000", len(got.Routes))
	}

	s.Routes[4242].Steps[0].Transform.Value = "'edited'"
	edited, err := Encode(s)
	if err != nil {
		t.Fatal(err)
	}
	changed := 0
	for i := range enc.Shards {
		if string(enc.Shards[i]) != string(edited.Shards[i]) {
			changed++
		}
	}
	if changed != 1 {
		t.Fatalf("editing one route changed %d shards, want 1", changed)
	}
	s.Generation++
	if err := edited.SetGeneration(s); err != nil {
		t.Fatal(err)
	}
	if string(edited.Credentials) != string(enc.Credentials) {
		t.Fatal("a route edit rewrote the credentials")
	}
}

func TestEncodeRefusesOversizedCredentials(t *testing.T) {
	s := validSnapshot()
	s.Credentials.Secrets = map[string]string{"big": strings.Repeat("x", MaxCredentialsBytes)}
	_, err := Encode(s)
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Encode() = %v, want ErrTooLarge", err)
	}
	if strings.Contains(err.Error(), "xxxx") {
		t.Fatalf("error echoes a secret value")
	}
}

func decode(t *testing.T, enc *Encoded) *Snapshot {
	t.Helper()
	idx, err := DecodeIndex(enc.Index)
	if err != nil {
		t.Fatal(err)
	}
	var routes []Route
	for i, ref := range idx.Shards {
		part, err := DecodeShard(ref, enc.Shards[i])
		if err != nil {
			t.Fatal(err)
		}
		routes = append(routes, part...)
	}
	SortRoutes(routes)
	creds, err := DecodeCredentials(enc.Credentials)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Assemble(idx.Header, routes, creds)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// benchmarkRoute is a realistic AppAPI: an upstream call and a reshaping
// transform. Each route carries a unique, incompressible string, as real
// routes written by different people do, so compression cannot hide size.
func benchmarkRoute(i int) Route {
	status := int32(200)
	unique := HashToken(fmt.Sprint(i))
	return Route{
		Name: fmt.Sprintf("orders-%05d", i), Generation: 1, Method: "GET",
		Path:           fmt.Sprintf("/tenants/t%05d/orders/{orderId}", i),
		Query:          []v1alpha1.QueryParameter{{Name: "expand", Type: v1alpha1.QueryBoolean}},
		Authentication: v1alpha1.Authentication{Mode: v1alpha1.AuthenticationToken, AllowedTokens: []string{"ci", "partner"}},
		Steps: []v1alpha1.Step{
			{Name: "shape", Transform: &v1alpha1.TransformOperation{Value: "{'id': request.params.orderId, 'tenant': vars.region, 'tag': '" + unique + "'}"}},
			{Name: "order", HTTP: &v1alpha1.HTTPOperation{Method: "GET",
				URL:     "http://orders.shop.svc/api/v2/" + unique[:16] + "/orders/{{ request.params.orderId }}",
				Headers: map[string]string{"X-Api-Key": "{{ secrets.apiKey }}"}}},
		},
		Response: v1alpha1.Response{Status: &status, Body: "{'order': steps.order.body, 'meta': steps.shape}",
			Headers: map[string]string{"X-Route-Owner": HashToken(unique) + HashToken(unique+"2")}},
	}
}

// BenchmarkEncode measures laying out an Environment's snapshot for
// publication, which the controller does on every change.
func BenchmarkEncode(b *testing.B) {
	for _, n := range []int{100, 10000} {
		s := validSnapshot()
		s.Routes = nil
		for i := range n {
			s.Routes = append(s.Routes, benchmarkRoute(i))
		}
		b.Run(fmt.Sprintf("routes=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Encode(s); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
