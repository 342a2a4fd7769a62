package auth

import (
	"strings"
	"testing"
	"time"

	"github.com/appapi-dev/appapi/internal/snapshot"
)

// FuzzAuthenticate: whatever the header values, Authenticate accepts only
// one value that is exactly the Bearer scheme (in any case), spaces, and a
// known token that has not expired, and then names that token.
func FuzzAuthenticate(f *testing.F) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	past := now.Add(-time.Second)
	known := map[string]Token{"good-token": {Name: "partner", ID: "p1"}, "eyJhbGciOiJFZERTQSJ9.e30.c2ln": {Name: "jwt", ID: "j1"}}
	set := NewSet([]snapshot.Token{
		{Name: "partner", ID: "p1", Hash: snapshot.HashToken("good-token")},
		{Name: "jwt", ID: "j1", Hash: snapshot.HashToken("eyJhbGciOiJFZERTQSJ9.e30.c2ln")},
		{Name: "old", ID: "o1", Hash: snapshot.HashToken("expired-token"), ExpiresAt: &past},
	})
	for _, seed := range []struct {
		first, second string
		two           bool
	}{
		{first: "Bearer good-token"}, {first: "bearer  good-token"}, {first: "BEARER eyJhbGciOiJFZERTQSJ9.e30.c2ln"},
		{first: "Bearer good-token", second: "Bearer good-token", two: true},
		{first: "Bearer good-token", second: "Bearer other", two: true},
		{first: "Bearer expired-token"}, {first: "Bearer good-token extra"}, {first: "Bearer\tgood-token"},
		{first: "Bearer good-token\t"}, {first: "Basic good-token"}, {first: "good-token"}, {first: "Bearer "}, {first: ""},
		{first: "Bearer " + strings.Repeat("x", maxTokenLength+1)},
	} {
		f.Add(seed.first, seed.second, seed.two)
	}
	f.Fuzz(func(t *testing.T, first, second string, two bool) {
		values := []string{first}
		if two {
			values = append(values, second)
		}
		got, failure := set.Authenticate(values, now)
		if failure != "" {
			if got != (Token{}) {
				t.Fatalf("failure %q with token %+v", failure, got)
			}
			return
		}
		if len(values) != 1 {
			t.Fatalf("accepted %d Authorization headers", len(values))
		}
		scheme, rest, _ := strings.Cut(first, " ")
		text := strings.TrimLeft(rest, " ")
		want, isKnown := known[text]
		if !strings.EqualFold(scheme, "Bearer") || !isKnown || got != want {
			t.Fatalf("accepted %q as %+v: not Bearer and a known, unexpired token", first, got)
		}
	})
}
