package snapshot

import (
	"crypto/sha256"
	"encoding/hex"
	"testing"
)

// TestIndexJSONIsPinned: gateways and managers of the previous version read
// the index this version writes, and the other way round, so its JSON must
// not change by accident. Only the shard's digest is computed here: it is
// the SHA-256 of the compressed bytes, whatever the compressor writes.
func TestIndexJSONIsPinned(t *testing.T) {
	s := validSnapshot()
	s.Settings.MaxRequestBytes = 1 << 20
	enc, err := Encode(s)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(enc.Shards[0])
	want := `{"version":"appapi.dev/snapshot/v1","namespace":"shop","environment":"prod","generation":3,` +
		`"settings":{"maxRequestBytes":1048576,"requestTimeout":"30s"},"variables":{"region":"eu"},` +
		`"shards":[{"name":"appapi-prod-snapshot-0","sha256":"` + hex.EncodeToString(sum[:]) + `","routes":2}]}`
	if string(enc.Index) != want {
		t.Fatalf("the index JSON changed:\n got %s\nwant %s", enc.Index, want)
	}
}
