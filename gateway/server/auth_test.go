package server_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/appapi-dev/appapi/api/v1alpha1"
	"github.com/appapi-dev/appapi/internal/snapshot"
)

// Token texts. Each is distinctive, so that finding one in a log or a body
// cannot be a coincidence.
const (
	aliceText    = "tok-alice-current-3f9c1d0b7e2a45"
	aliceOldText = "tok-alice-rotated-88d1e4c07aa913"
	aliceExpText = "tok-alice-expired-0c2f5b9e61d7f0"
	bobText      = "tok-bob-current-51aa0c6d2e9b37"
	stagingText  = "tok-alice-staging-7b3e02f4c8d1a6"
)

func tokenRoute() snapshot.Route {
	return snapshot.Route{
		Name: "whoami", Generation: 1, Method: "GET", Path: "/whoami",
		Authentication: v1alpha1.Authentication{Mode: v1alpha1.AuthenticationToken, AllowedTokens: []string{"alice"}},
		Response: v1alpha1.Response{
			Body: `{'caller': token.name, 'id': token.id, 'sawAuthorization': 'authorization' in request.headers}`,
		},
	}
}

func TestAuthentication(t *testing.T) {
	past := time.Now().Add(-time.Hour)
	future := time.Now().Add(time.Hour)
	current := []snapshot.Token{
		{Name: "alice", ID: "a-2", Hash: snapshot.HashToken(aliceText), ExpiresAt: &future},
		{Name: "alice", ID: "a-0", Hash: snapshot.HashToken(aliceExpText), ExpiresAt: &past},
		{Name: "bob", ID: "b-1", Hash: snapshot.HashToken(bobText)},
	}
	gen1 := newSnapshot(1, tokenRoute())
	gen1.Credentials.Tokens = append([]snapshot.Token{{Name: "alice", ID: "a-1", Hash: snapshot.HashToken(aliceOldText)}}, current...)
	f := newFixture(t, gen1)

	// The rotated token works until a snapshot without it is loaded.
	bearer := func(text string) http.Header { return http.Header{"Authorization": {"Bearer " + text}} }
	if got := f.do(t, "GET", "/whoami", bearer(aliceOldText), nil).wantOK(t); got["id"] != "a-1" {
		t.Fatalf("before revocation: body %v, want id a-1", got)
	}
	gen2 := newSnapshot(2, tokenRoute())
	gen2.Credentials.Tokens = current
	if err := f.gw.Load(gen2); err != nil {
		t.Fatalf("Load generation 2: %v", err)
	}

	// The staging token is valid, in the staging environment's gateway.
	staging := newSnapshot(1, tokenRoute())
	staging.Environment = "staging"
	staging.Credentials.Tokens = []snapshot.Token{{Name: "alice", ID: "s-1", Hash: snapshot.HashToken(stagingText)}}
	if got := newFixture(t, staging).do(t, "GET", "/whoami", bearer(stagingText), nil).wantOK(t); got["id"] != "s-1" {
		t.Fatalf("staging token in staging: body %v, want id s-1", got)
	}

	const (
		challengeMissing = `Bearer realm="appapi"`
		challengeInvalid = `Bearer realm="appapi", error="invalid_token"`
	)
	tests := []struct {
		name          string
		authorization []string // nil: no header
		status        int
		challenge     string // WWW-Authenticate; "" means none
		reason        string // auth failure metric label; "" means none
		wantID        string // token.id seen by the expression, for 200
	}{
		{name: "no Authorization", status: 401, challenge: challengeMissing, reason: "missing"},
		{name: "Basic scheme", authorization: []string{"Basic x"}, status: 401, challenge: challengeInvalid, reason: "malformed"},
		{name: "Bearer without token", authorization: []string{"Bearer"}, status: 401, challenge: challengeInvalid, reason: "malformed"},
		{name: "Bearer with two words", authorization: []string{"Bearer " + aliceText + " extra"}, status: 401, challenge: challengeInvalid, reason: "malformed"},
		{name: "unknown token", authorization: []string{"Bearer tok-nobody-knows-this-one-0000"}, status: 401, challenge: challengeInvalid, reason: "unknown"},
		{name: "revoked token", authorization: []string{"Bearer " + aliceOldText}, status: 401, challenge: challengeInvalid, reason: "unknown"},
		{name: "expired token", authorization: []string{"Bearer " + aliceExpText}, status: 401, challenge: challengeInvalid, reason: "expired"},
		{name: "token of another environment", authorization: []string{"Bearer " + stagingText}, status: 401, challenge: challengeInvalid, reason: "unknown"},
		{name: "valid token not in allowedTokens", authorization: []string{"Bearer " + bobText}, status: 403, reason: "not_allowed"},
		{name: "valid allowed token", authorization: []string{"Bearer " + aliceText}, status: 200, wantID: "a-2"},
		{name: "scheme is case-insensitive", authorization: []string{"bearer " + aliceText}, status: 200, wantID: "a-2"},
		// Not "the first one wins": a proxy in front may have checked the other.
		{name: "two Authorization headers", authorization: []string{"Bearer " + aliceText, "Bearer " + bobText}, status: 400, reason: "duplicated"},
		{name: "the same token twice", authorization: []string{"Bearer " + aliceText, "Bearer " + aliceText}, status: 400, reason: "duplicated"},
	}
	secrets := []string{aliceText, aliceOldText, aliceExpText, bobText, stagingText}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			failuresBefore := f.counterValue(t, "appapi_gateway_auth_failures_total", map[string]string{"reason": tt.reason})
			var h http.Header
			if tt.authorization != nil {
				h = http.Header{"Authorization": tt.authorization}
			}
			r := f.do(t, "GET", "/whoami", h, nil)

			if got := r.Header.Get("WWW-Authenticate"); got != tt.challenge {
				t.Errorf("WWW-Authenticate = %q, want %q", got, tt.challenge)
			}
			for _, s := range secrets {
				if strings.Contains(string(r.body), s) {
					t.Errorf("the response body contains a token's text: %s", r.body)
				}
			}
			wantToken := ""
			if tt.status == 200 {
				body := r.wantOK(t)
				if body["caller"] != "alice" || body["id"] != tt.wantID {
					t.Errorf("token seen by the expression = %v/%v, want alice/%s", body["caller"], body["id"], tt.wantID)
				}
				if body["sawAuthorization"] != false {
					t.Errorf("request.headers holds the Authorization header")
				}
				wantToken = "alice"
			} else {
				p := r.wantProblem(t, tt.status)
				if p.Title != http.StatusText(tt.status) {
					t.Errorf("title = %q, want %q", p.Title, http.StatusText(tt.status))
				}
				if p.Instance != "/whoami" {
					t.Errorf("instance = %q, want /whoami", p.Instance)
				}
				if tt.status == 400 && p.Detail != "the request has more than one Authorization header; send one" {
					t.Errorf("detail = %q", p.Detail)
				}
				if tt.status == 403 {
					wantToken = "bob"
				}
			}

			if tt.reason != "" {
				after := f.counterValue(t, "appapi_gateway_auth_failures_total", map[string]string{"reason": tt.reason})
				if after != failuresBefore+1 {
					t.Errorf("appapi_gateway_auth_failures_total{reason=%q} went from %v to %v, want +1", tt.reason, failuresBefore, after)
				}
			}

			line := f.accessLog(t, r.Header.Get("X-Request-Id"))
			want := map[string]any{"method": "GET", "path": "/whoami", "appapi": "whoami", "status": float64(tt.status), "token": wantToken}
			for k, v := range want {
				if line[k] != v {
					t.Errorf("access log %s = %v, want %v (line %v)", k, line[k], v, line)
				}
			}
		})
	}

	// Every failure was counted once by reason; the successes not at all.
	for reason, want := range map[string]float64{"missing": 1, "malformed": 3, "unknown": 3, "expired": 1, "not_allowed": 1, "duplicated": 2} {
		if got := f.counterValue(t, "appapi_gateway_auth_failures_total", map[string]string{"reason": reason}); got != want {
			t.Errorf("auth failures %s = %v, want %v", reason, got, want)
		}
	}
	if got := f.counterValue(t, "appapi_gateway_requests_total", map[string]string{"appapi": "whoami", "code": "401"}); got != 8 {
		t.Errorf("requests_total{appapi=whoami,code=401} = %v, want 8", got)
	}

	log := f.log.String()
	for _, s := range secrets {
		if strings.Contains(log, s) {
			t.Errorf("the log contains a token's text %q", s)
		}
	}
	if strings.Contains(strings.ToLower(log), "bearer") {
		t.Errorf("the log contains the word Bearer:\n%s", log)
	}
}

// TestAuthenticationNone checks that a route without authentication ignores
// an Authorization header and gives expressions an empty token.
func TestAuthenticationNone(t *testing.T) {
	snap := newSnapshot(1, openRoute("open", "GET", "/open", `{'size': token.size()}`))
	snap.Credentials.Tokens = []snapshot.Token{{Name: "alice", ID: "a-1", Hash: snapshot.HashToken(aliceText)}}
	f := newFixture(t, snap)
	for _, h := range []http.Header{nil, {"Authorization": {"Basic x"}}, {"Authorization": {"Bearer " + aliceText}}} {
		r := f.do(t, "GET", "/open", h, nil)
		if got := r.wantOK(t); got["size"] != float64(0) {
			t.Errorf("Authorization %q: token has %v entries, want 0", h.Get("Authorization"), got["size"])
		}
		if r.Header.Get("WWW-Authenticate") != "" {
			t.Errorf("WWW-Authenticate set on an open route")
		}
	}
}
