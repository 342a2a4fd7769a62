package snapshot

import (
	"bytes"
	"slices"
)

// Sequencer numbers the snapshots of one Environment: the generation goes
// up by one when, and only when, what a gateway would load changes. The
// controller and the gateway's local mode both number their snapshots with
// it, so the same edits give the same generations in either.
//
// A Sequencer is not safe for concurrent use; each publisher keeps its own.
type Sequencer struct {
	last    *Snapshot
	encoded *Encoded
}

// Resume continues the numbering after published, a snapshot read back from
// where an earlier process published it, so that generations keep
// increasing across restarts. published may carry only a generation, when
// the rest could not be read: the next snapshot then counts as a change.
func (q *Sequencer) Resume(published *Snapshot) {
	q.last, q.encoded = published, nil
	if published != nil && published.Validate() == nil {
		q.encoded, _ = Encode(published)
	}
}

// Last is the last snapshot numbered (or resumed from), nil before the first.
func (q *Sequencer) Last() *Snapshot { return q.last }

// Next gives next its generation: the last one when nothing changed, else
// the last one plus one (1 for the first). It returns next's encoding and
// whether it changed. A snapshot that does not encode (ErrTooLarge) or
// validate is refused with the error and the last one stays.
func (q *Sequencer) Next(next *Snapshot) (enc *Encoded, changed bool, err error) {
	next.Generation = 0
	var lastRoutes []Route
	if q.last != nil {
		next.Generation, lastRoutes = q.last.Generation, q.last.Routes
	}
	if enc, err = encode(next, lastRoutes, q.encoded); err != nil {
		return nil, false, err
	}
	if q.last != nil && sameEncoding(enc, q.encoded) {
		return enc, false, nil
	}
	next.Generation++
	if err := next.Validate(); err != nil {
		return nil, false, err
	}
	// The shards hold no generation: only the index is encoded again.
	if err := enc.SetGeneration(next); err != nil {
		return nil, false, err
	}
	q.last, q.encoded = next, enc
	return enc, true, nil
}

func sameEncoding(a, b *Encoded) bool {
	if a == nil || b == nil || !bytes.Equal(a.Index, b.Index) || !bytes.Equal(a.Credentials, b.Credentials) {
		return false
	}
	return slices.EqualFunc(a.Shards, b.Shards, bytes.Equal)
}
