package snapshot

import (
	"slices"
	"testing"
)

// BenchmarkSequencerNext numbers a snapshot of 10,000 routes: first in a
// new Sequencer, then, in one that numbered it, the same snapshot with one
// route edited or one token added, alternating between the two so that
// every iteration publishes a change.
func BenchmarkSequencerNext(b *testing.B) {
	const routes = 10_000
	base := validSnapshot()
	base.Routes = nil
	for i := range routes {
		base.Routes = append(base.Routes, benchmarkRoute(i))
	}
	edited := *base
	edited.Routes = slices.Clone(base.Routes)
	r := benchmarkRoute(routes / 2)
	r.Generation = 2
	edited.Routes[routes/2] = r
	tokenAdded := *base
	tokenAdded.Credentials.Tokens = append(slices.Clone(base.Credentials.Tokens), Token{Name: "ci", ID: "def", Hash: HashToken("t2")})

	next := func(b *testing.B, q *Sequencer, s *Snapshot) {
		copied := *s
		if _, changed, err := q.Next(&copied); err != nil || !changed {
			b.Fatalf("changed %v, err %v; want a change", changed, err)
		}
	}
	b.Run("first", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			next(b, &Sequencer{}, base)
		}
	})
	for _, bb := range []struct {
		name   string
		change *Snapshot
	}{
		{"one-route-edited", &edited},
		{"token-added", &tokenAdded},
	} {
		b.Run(bb.name, func(b *testing.B) {
			var q Sequencer
			next(b, &q, base)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				i++
				s := base
				if i%2 == 1 {
					s = bb.change
				}
				next(b, &q, s)
			}
		})
	}
}
