package snapshot

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"slices"
	"testing"
)

// tenThousandRoutes is a snapshot that takes more than one shard.
func tenThousandRoutes() *Snapshot {
	s := validSnapshot()
	s.Routes = nil
	for i := range 10000 {
		s.Routes = append(s.Routes, benchmarkRoute(i))
	}
	return s
}

// TestEncodeShardIsTheArrayCompressedAtOnce: writing a shard route by
// route gives the bytes of json.Encoder's array compressed in one write, so
// encodings stay comparable with those of earlier versions.
func TestEncodeShardIsTheArrayCompressedAtOnce(t *testing.T) {
	for _, routes := range [][]Route{{}, validSnapshot().Routes, tenThousandRoutes().Routes[:2000]} {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
		if err := json.NewEncoder(zw).Encode(routes); err != nil {
			t.Fatal(err)
		}
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
		got, fits, err := encodeShard(pointers(routes))
		if err != nil || !fits {
			t.Fatalf("%d routes: fits %v, err %v", len(routes), fits, err)
		}
		if !bytes.Equal(got, buf.Bytes()) {
			t.Errorf("%d routes: the shard differs from the array compressed at once", len(routes))
		}
	}
}

// TestEncodeReusesUnchangedShards: after an edit of one route, encoding
// with the last encoding takes the shards that did not change as they were
// and gives exactly what Encode gives.
func TestEncodeReusesUnchangedShards(t *testing.T) {
	s := tenThousandRoutes()
	last, err := Encode(s)
	if err != nil {
		t.Fatal(err)
	}
	edited := *s
	edited.Routes = slices.Clone(s.Routes)
	edited.Routes[4242] = benchmarkRoute(4242)
	edited.Routes[4242].Generation = 2

	got, err := encode(&edited, s.Routes, last)
	if err != nil {
		t.Fatal(err)
	}
	want, err := Encode(&edited)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Index, want.Index) || !slices.EqualFunc(got.Shards, want.Shards, bytes.Equal) {
		t.Fatal("encoding with the last encoding differs from Encode")
	}
	reused := 0
	for i := range got.Shards {
		if &got.Shards[i][0] == &last.Shards[i][0] {
			reused++
		}
	}
	if reused != len(got.Shards)-1 {
		t.Errorf("%d of %d shards reused after one edit, want all but one", reused, len(got.Shards))
	}
}

func pointers(routes []Route) []*Route {
	out := make([]*Route, len(routes))
	for i := range routes {
		out[i] = &routes[i]
	}
	return out
}
