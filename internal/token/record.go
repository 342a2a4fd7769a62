package token

import (
	"encoding/json"
	"errors"
	"slices"
	"time"

	"github.com/appapi-dev/appapi/internal/snapshot"
)

// RecordKey is the key of a token's record Secret.
const RecordKey = "record.json"

// Record is what the controller keeps about an ApiToken's tokens, in a
// Secret because it holds their hashes.
type Record struct {
	Current Entry `json:"current"`
	// Previous are rotated tokens still inside their grace period.
	Previous []Entry `json:"previous,omitempty"`
	// Rotation is the value of the rotate annotation the current token was
	// minted for, so that each new value mints exactly once.
	Rotation string `json:"rotation,omitempty"`
}

// Entry is one token.
type Entry struct {
	ID       string    `json:"id"`
	Hash     string    `json:"hash"`
	IssuedAt time.Time `json:"issuedAt"`
	// ExpiresAt is when the gateway stops accepting the token: the
	// ApiToken's expiry for the current token, the end of the grace period
	// for a previous one.
	ExpiresAt *time.Time `json:"expiresAt,omitempty"`
}

// NewEntry records a minted token by its hash.
func NewEntry(m Minted, expiresAt *time.Time) Entry {
	return Entry{ID: m.ID, Hash: snapshot.HashToken(m.Text), IssuedAt: m.IssuedAt, ExpiresAt: expiresAt}
}

// Rotate makes next the current token and keeps the current one valid for
// grace; with no grace it stops working as soon as the record is published.
func (r *Record) Rotate(next Entry, rotation string, now time.Time, grace time.Duration) {
	if grace > 0 {
		old := r.Current
		until := now.Add(grace)
		if old.ExpiresAt == nil || old.ExpiresAt.After(until) {
			old.ExpiresAt = &until
		}
		r.Previous = append(r.Previous, old)
	}
	r.Current, r.Rotation = next, rotation
}

// Prune forgets previous tokens whose grace period has ended and reports
// when the next one ends, so the controller can come back then.
func (r *Record) Prune(now time.Time) (next time.Time) {
	r.Previous = slices.DeleteFunc(r.Previous, func(e Entry) bool { return !e.ExpiresAt.After(now) })
	for _, e := range r.Previous {
		if next.IsZero() || e.ExpiresAt.Before(next) {
			next = *e.ExpiresAt
		}
	}
	return next
}

// Tokens are the snapshot entries of every token the record holds.
func (r *Record) Tokens(name string) []snapshot.Token {
	out := make([]snapshot.Token, 0, 1+len(r.Previous))
	for _, e := range append([]Entry{r.Current}, r.Previous...) {
		out = append(out, snapshot.Token{Name: name, ID: e.ID, Hash: e.Hash, ExpiresAt: e.ExpiresAt})
	}
	return out
}

// Marshal encodes the record for its Secret.
func (r *Record) Marshal() ([]byte, error) { return json.Marshal(r) }

// UnmarshalRecord decodes a record Secret's data. Its error never quotes the data.
func UnmarshalRecord(data []byte) (*Record, error) {
	var r Record
	if err := json.Unmarshal(data, &r); err != nil || r.Current.ID == "" || r.Current.Hash == "" {
		return nil, errors.New("the token record is not valid")
	}
	return &r, nil
}
