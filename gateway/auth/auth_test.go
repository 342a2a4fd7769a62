package auth

import (
	"testing"
	"time"

	"github.com/appapi-dev/appapi/internal/snapshot"
)

func TestAuthenticate(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	past, future := now.Add(-time.Second), now.Add(time.Hour)
	set := NewSet([]snapshot.Token{
		{Name: "partner", ID: "p1", Hash: snapshot.HashToken("good-token")},
		{Name: "old", ID: "o1", Hash: snapshot.HashToken("expired-token"), ExpiresAt: &past},
		{Name: "later", ID: "l1", Hash: snapshot.HashToken("expiring-token"), ExpiresAt: &future},
	})
	tests := []struct {
		header  string
		want    Token
		failure Failure
	}{
		{header: "Bearer good-token", want: Token{Name: "partner", ID: "p1"}},
		{header: "bearer good-token", want: Token{Name: "partner", ID: "p1"}},
		{header: "Bearer expiring-token", want: Token{Name: "later", ID: "l1"}},
		{header: "", failure: FailureMissing},
		{header: "Bearer", failure: FailureMalformed},
		{header: "Bearer ", failure: FailureMalformed},
		{header: "Basic dXNlcjpwYXNz", failure: FailureMalformed},
		{header: "good-token", failure: FailureMalformed},
		{header: "Bearer good-token extra", failure: FailureMalformed},
		{header: "Bearer " + string(make([]byte, maxTokenLength+1)), failure: FailureMalformed},
		{header: "Bearer revoked-or-other-environment", failure: FailureUnknown},
		{header: "Bearer expired-token", failure: FailureExpired},
	}
	for _, tt := range tests {
		got, failure := set.Authenticate([]string{tt.header}, now)
		if got != tt.want || failure != tt.failure {
			t.Errorf("Authenticate(%.30q) = %+v, %q; want %+v, %q", tt.header, got, failure, tt.want, tt.failure)
		}
	}
}

// TestAuthenticateHeaderCount: no header is missing; two are refused even
// when both carry the same valid token, rather than the first one winning.
func TestAuthenticateHeaderCount(t *testing.T) {
	set := NewSet([]snapshot.Token{{Name: "partner", ID: "p1", Hash: snapshot.HashToken("good-token")}})
	now := time.Now()
	for _, tc := range []struct {
		values []string
		want   Failure
	}{
		{values: nil, want: FailureMissing},
		{values: []string{}, want: FailureMissing},
		{values: []string{"Bearer good-token", "Bearer good-token"}, want: FailureDuplicated},
		{values: []string{"Bearer good-token", "Bearer other"}, want: FailureDuplicated},
		{values: []string{"Bearer other", "Bearer good-token"}, want: FailureDuplicated},
		{values: []string{"", "Bearer good-token"}, want: FailureDuplicated},
	} {
		if got, failure := set.Authenticate(tc.values, now); failure != tc.want || got != (Token{}) {
			t.Errorf("Authenticate(%q) = %+v, %q; want %q", tc.values, got, failure, tc.want)
		}
	}
}

func TestChallenge(t *testing.T) {
	if got := Challenge(FailureMissing); got != `Bearer realm="appapi"` {
		t.Errorf("missing: %s", got)
	}
	if got := Challenge(FailureExpired); got != `Bearer realm="appapi", error="invalid_token"` {
		t.Errorf("expired: %s", got)
	}
}

func BenchmarkAuthenticate(b *testing.B) {
	var tokens []snapshot.Token
	for i := range 1000 {
		tokens = append(tokens, snapshot.Token{Name: "t", ID: string(rune(i)), Hash: snapshot.HashToken(string(rune('a'+i%26)) + string(rune(i)))})
	}
	tokens = append(tokens, snapshot.Token{Name: "bench", ID: "b", Hash: snapshot.HashToken("eyJhbGciOiJFZERTQSJ9.payload.signature-of-typical-length-0123456789")})
	set := NewSet(tokens)
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		if _, f := set.Authenticate([]string{"Bearer eyJhbGciOiJFZERTQSJ9.payload.signature-of-typical-length-0123456789"}, now); f != "" {
			b.Fatal(f)
		}
	}
}
