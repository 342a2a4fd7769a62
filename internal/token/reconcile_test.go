package token

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/appapi-dev/appapi/api/v1alpha1"
	"github.com/appapi-dev/appapi/internal/snapshot"
)

func TestReconcile(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	at := func(d time.Duration) *time.Time { t := now.Add(d); return &t }
	entry := func(id string, exp *time.Time) Entry {
		return Entry{ID: id, Hash: snapshot.HashToken(id), IssuedAt: now.Add(-24 * time.Hour), ExpiresAt: exp}
	}
	newEntry := func(exp *time.Time) Entry {
		return Entry{ID: "new", Hash: snapshot.HashToken("new"), IssuedAt: now, ExpiresAt: exp}
	}
	apiToken := func(rotate, grace string, expires *time.Time) *v1alpha1.ApiToken {
		tok := &v1alpha1.ApiToken{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "partner"},
			Spec: v1alpha1.ApiTokenSpec{Environment: "prod", RotationGracePeriod: v1alpha1.Duration(grace)}}
		if rotate != "" {
			tok.Annotations = map[string]string{v1alpha1.RotateAnnotation: rotate}
		}
		if expires != nil {
			tok.Spec.ExpiresAt = &metav1.Time{Time: *expires}
		}
		return tok
	}

	for _, tc := range []struct {
		name     string
		record   *Record
		tok      *v1alpha1.ApiToken
		want     *Record
		replaced string
		grace    time.Duration
		nextEnd  time.Time
		wantErr  string
	}{
		{
			name: "first token",
			tok:  apiToken("", "", nil),
			want: &Record{Current: newEntry(nil)},
		},
		{
			name: "first token with an expiry and a rotate annotation already set: no rotation follows",
			tok:  apiToken("1", "1h", at(48*time.Hour)),
			want: &Record{Current: newEntry(at(48 * time.Hour)), Rotation: "1"},
		},
		{
			name:   "nothing to do",
			record: &Record{Current: entry("a", nil), Rotation: "1"},
			tok:    apiToken("1", "", nil),
			want:   &Record{Current: entry("a", nil), Rotation: "1"},
		},
		{
			name:   "the annotation removed rotates nothing",
			record: &Record{Current: entry("a", nil), Rotation: "1"},
			tok:    apiToken("", "", nil),
			want:   &Record{Current: entry("a", nil), Rotation: "1"},
		},
		{
			name:   "expiry set, changed and removed on the current token",
			record: &Record{Current: entry("a", at(time.Hour))},
			tok:    apiToken("", "", at(2*time.Hour)),
			want:   &Record{Current: entry("a", at(2*time.Hour))},
		},
		{
			name:   "an expired token stays, with its expiry",
			record: &Record{Current: entry("a", at(-time.Hour))},
			tok:    apiToken("", "", at(-time.Hour)),
			want:   &Record{Current: entry("a", at(-time.Hour))},
		},
		{
			name:     "rotation without grace drops the current token",
			record:   &Record{Current: entry("a", nil)},
			tok:      apiToken("2", "", nil),
			want:     &Record{Current: newEntry(nil), Rotation: "2"},
			replaced: "a",
		},
		{
			name:     "rotation with grace keeps the current token until it ends",
			record:   &Record{Current: entry("a", nil), Rotation: "1"},
			tok:      apiToken("2", "90m", nil),
			want:     &Record{Current: newEntry(nil), Previous: []Entry{entry("a", at(90*time.Minute))}, Rotation: "2"},
			replaced: "a",
			grace:    90 * time.Minute,
			nextEnd:  now.Add(90 * time.Minute),
		},
		{
			name:     "grace never extends a token past its expiry",
			record:   &Record{Current: entry("a", at(10*time.Minute))},
			tok:      apiToken("2", "1h", at(10*time.Minute)),
			want:     &Record{Current: newEntry(at(10 * time.Minute)), Previous: []Entry{entry("a", at(10*time.Minute))}, Rotation: "2"},
			replaced: "a",
			grace:    time.Hour,
			nextEnd:  now.Add(10 * time.Minute),
		},
		{
			name:    "ended grace periods are pruned, running ones kept",
			record:  &Record{Current: entry("c", nil), Previous: []Entry{entry("a", at(-time.Second)), entry("b", at(time.Minute)), entry("z", at(0))}},
			tok:     apiToken("", "", nil),
			want:    &Record{Current: entry("c", nil), Previous: []Entry{entry("b", at(time.Minute))}},
			nextEnd: now.Add(time.Minute),
		},
		{
			name:    "a grace period that does not parse mints nothing",
			record:  &Record{Current: entry("a", nil)},
			tok:     apiToken("2", "soon", nil),
			wantErr: `spec.rotationGracePeriod "soon" is not a duration`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var before *Record
			if tc.record != nil {
				before = tc.record.clone()
			}
			mints := 0
			d, err := Reconcile(tc.record, tc.tok, now, func() (Minted, error) {
				mints++
				return Minted{Text: "new", ID: "new", IssuedAt: now}, nil
			})
			if diff := cmp.Diff(before, tc.record); diff != "" {
				t.Errorf("Reconcile changed its input record:\n%s", diff)
			}
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || mints != 0 {
					t.Fatalf("error %v after %d mints; want %q and no mint", err, mints, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, d.Record); diff != "" {
				t.Errorf("record (-want +got):\n%s", diff)
			}
			wantMint := tc.record == nil || tc.replaced != ""
			if (d.Minted != nil) != wantMint || mints != map[bool]int{true: 1}[wantMint] {
				t.Errorf("minted %v (%d calls); want a mint: %v", d.Minted, mints, wantMint)
			}
			if d.Replaced != tc.replaced || d.Grace != tc.grace || !d.NextGraceEnd.Equal(tc.nextEnd) {
				t.Errorf("replaced %q, grace %v, next grace end %v; want %q, %v, %v", d.Replaced, d.Grace, d.NextGraceEnd, tc.replaced, tc.grace, tc.nextEnd)
			}
		})
	}
}

func TestReconcileMintFailure(t *testing.T) {
	boom := errors.New("no entropy")
	tok := &v1alpha1.ApiToken{ObjectMeta: metav1.ObjectMeta{Name: "partner"}}
	if _, err := Reconcile(nil, tok, time.Now(), func() (Minted, error) { return Minted{}, boom }); !errors.Is(err, boom) {
		t.Errorf("error %v; want the mint's", err)
	}
}
