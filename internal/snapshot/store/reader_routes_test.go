package store

import (
	"context"
	"testing"

	"github.com/appapi-dev/appapi/internal/snapshot"
)

// TestReadReturnsTheSameRoutesWhileNoShardChanges: the gateway tells that
// no route changed by getting the very slice it got last, so that a token
// change does not rebuild 10,000 routes; any route change gives a new one.
func TestReadReturnsTheSameRoutesWhileNoShardChanges(t *testing.T) {
	s := testSnapshot()
	objects := published(t, s)
	r := NewReader(objects, "prod")
	ctx := context.Background()
	first, err := r.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}

	s.Credentials.Tokens = append(s.Credentials.Tokens, snapshot.Token{Name: "late", ID: "9", Hash: snapshot.HashToken("late")})
	if err := testWriter(objects).Write(ctx, encode(t, s)); err != nil {
		t.Fatal(err)
	}
	tokenAdded, err := r.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(tokenAdded.Credentials.Tokens) != len(first.Credentials.Tokens)+1 {
		t.Fatalf("the new token was not read: %d tokens", len(tokenAdded.Credentials.Tokens))
	}
	if &tokenAdded.Routes[0] != &first.Routes[0] {
		t.Error("a token change gave a new slice of routes; want the one read before")
	}

	s.Routes[0].Path += "/v2"
	if err := testWriter(objects).Write(ctx, encode(t, s)); err != nil {
		t.Fatal(err)
	}
	edited, err := r.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if &edited.Routes[0] == &first.Routes[0] {
		t.Fatal("a route edit returned the slice read before")
	}
	if edited.Routes[0].Path != s.Routes[0].Path {
		t.Errorf("route %s has path %q, want %q", edited.Routes[0].Name, edited.Routes[0].Path, s.Routes[0].Path)
	}
}
