package snapshot

import (
	"errors"
	"strings"
	"testing"
)

func TestSequencerNumbersOnlyChanges(t *testing.T) {
	var q Sequencer
	first := validSnapshot()
	if _, changed, err := q.Next(first); err != nil || !changed || first.Generation != 1 {
		t.Fatalf("first: changed %v, generation %d, err %v; want a change to generation 1", changed, first.Generation, err)
	}
	same := validSnapshot()
	enc, changed, err := q.Next(same)
	if err != nil || changed || same.Generation != 1 {
		t.Fatalf("same content: changed %v, generation %d, err %v; want no change at generation 1", changed, same.Generation, err)
	}
	if idx, _ := DecodeIndex(enc.Index); idx.Generation != 1 {
		t.Fatalf("unchanged encoding carries generation %d, want 1", idx.Generation)
	}
	edited := validSnapshot()
	edited.Variables["region"] = "us"
	if _, changed, _ := q.Next(edited); !changed || edited.Generation != 2 {
		t.Fatalf("edited: changed %v, generation %d; want generation 2", changed, edited.Generation)
	}
	// A token change alone (the credentials Secret) is a change too.
	rotated := validSnapshot()
	rotated.Variables["region"] = "us"
	rotated.Credentials.Tokens[0].Hash = HashToken("t2")
	if _, changed, _ := q.Next(rotated); !changed || rotated.Generation != 3 || q.Last() != rotated {
		t.Fatalf("rotated token: changed %v, generation %d; want generation 3, kept as last", changed, rotated.Generation)
	}
}

func TestSequencerRefusesInvalidAndKeepsLast(t *testing.T) {
	var q Sequencer
	good := validSnapshot()
	if _, _, err := q.Next(good); err != nil {
		t.Fatal(err)
	}
	bad := validSnapshot()
	bad.Routes[1].Name = "get-order"
	if _, _, err := q.Next(bad); err == nil || !strings.Contains(err.Error(), "appears twice") {
		t.Fatalf("invalid snapshot: err %v, want the validation error", err)
	}
	if q.Last() != good {
		t.Fatal("an invalid snapshot replaced the last good one")
	}
	huge := validSnapshot()
	huge.Credentials.Secrets["big"] = strings.Repeat("x", MaxCredentialsBytes)
	if _, _, err := q.Next(huge); !errors.Is(err, ErrTooLarge) || q.Last() != good {
		t.Fatalf("too large: err %v, last kept %v", err, q.Last() == good)
	}
}

func TestSequencerResumesAfterRestart(t *testing.T) {
	published := validSnapshot() // generation 3
	var q Sequencer
	q.Resume(published)
	same := validSnapshot()
	if _, changed, _ := q.Next(same); changed || same.Generation != 3 {
		t.Fatalf("same as published: changed %v, generation %d; want no change at 3", changed, same.Generation)
	}
	// Only the generation could be read back: anything next is newer.
	q.Resume(&Snapshot{Header: Header{Generation: 7}})
	next := validSnapshot()
	if _, changed, _ := q.Next(next); !changed || next.Generation != 8 {
		t.Fatalf("after a partial read-back: changed %v, generation %d; want 8", changed, next.Generation)
	}
}
