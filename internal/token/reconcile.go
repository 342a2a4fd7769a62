package token

import (
	"fmt"
	"slices"
	"time"

	"github.com/appapi-dev/appapi/api/v1alpha1"
)

// Decision is what Reconcile decided for one ApiToken.
type Decision struct {
	// Record is the record to keep; never nil.
	Record *Record
	// Minted is the token minted now, or nil. Its Text is the only copy of
	// the plaintext: the caller writes it once, to the token's Secret or,
	// in local mode, to the terminal or token file.
	Minted *Minted
	// Replaced is the ID of the token that a rotation replaced, which stays
	// valid for Grace; "" when nothing was rotated.
	Replaced string
	Grace    time.Duration
	// NextGraceEnd is when the next rotated-out token stops working, zero
	// when none is left: nothing else signals that moment.
	NextGraceEnd time.Time
}

// SubjectOf is who tok's tokens are for.
func SubjectOf(tok *v1alpha1.ApiToken) Subject {
	return Subject{Namespace: tok.Namespace, Environment: tok.Spec.Environment, Name: tok.Name, ExpiresAt: tok.Expiry()}
}

// NewRecord is the record of m, the first token of tok.
func NewRecord(m Minted, tok *v1alpha1.ApiToken) *Record {
	return &Record{Current: NewEntry(m, tok.Expiry()), Rotation: tok.Annotations[v1alpha1.RotateAnnotation]}
}

// Reconcile is the lifecycle of an ApiToken's tokens, shared by the
// ApiToken controller and the gateway's local mode: with no record it mints
// the first token; when the rotate annotation has a value not handled yet
// it mints a new one and keeps the current one valid for
// spec.rotationGracePeriod (never past its own expiry); the current token
// follows spec.expiresAt; rotated tokens leave once their grace period has
// ended. record is not changed. mint is called at most once, and only after
// everything else was checked, so that an error never follows a mint.
//
// tok is assumed valid as the API server checks it; a grace period that
// does not parse, which only its CRD rule can let through, is an error.
func Reconcile(record *Record, tok *v1alpha1.ApiToken, now time.Time, mint func() (Minted, error)) (Decision, error) {
	rotation := tok.Annotations[v1alpha1.RotateAnnotation]
	var d Decision
	switch {
	case record == nil:
		m, err := mint()
		if err != nil {
			return Decision{}, err
		}
		d.Record, d.Minted = NewRecord(m, tok), &m
	case tok.RotationRequested(record.Rotation):
		grace, err := tok.Spec.RotationGracePeriod.Parse(0)
		if err != nil || grace < 0 {
			return Decision{}, fmt.Errorf("spec.rotationGracePeriod %q is not a duration", string(tok.Spec.RotationGracePeriod))
		}
		m, err := mint()
		if err != nil {
			return Decision{}, err
		}
		d.Record, d.Minted, d.Replaced, d.Grace = record.clone(), &m, record.Current.ID, grace
		d.Record.Rotate(NewEntry(m, tok.Expiry()), rotation, now, grace)
	default:
		d.Record = record.clone()
	}
	d.Record.Current.ExpiresAt = tok.Expiry()
	d.NextGraceEnd = d.Record.Prune(now)
	return d, nil
}

func (r *Record) clone() *Record {
	c := *r
	c.Previous = slices.Clone(r.Previous)
	return &c
}
