package controllers

import (
	"context"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestRequeueKeepsTheSoonest(t *testing.T) {
	var p phaseProgress
	for _, d := range []time.Duration{time.Minute, 5 * time.Second, time.Hour} {
		p.requeueSoonerThan(d)
	}
	if p.requeueAfter != 5*time.Second {
		t.Fatalf("requeueAfter = %s, want the soonest asked for, 5s", p.requeueAfter)
	}
}

// TestTokenDeadlines: nothing signals a token's expiry or the end of a
// rotated token's grace period, so the reconcile comes back for the sooner.
func TestTokenDeadlines(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	at := func(d time.Duration) *metav1.Time { t := metav1.NewTime(now.Add(d)); return &t }
	tests := []struct {
		name      string
		expiresAt *metav1.Time
		graceEnd  time.Duration
		want      time.Duration
	}{
		{name: "no deadline", want: 0},
		{name: "expiry", expiresAt: at(time.Hour), want: time.Hour + 100*time.Millisecond},
		{name: "expired already", expiresAt: at(-time.Hour), want: 0},
		{name: "grace period ends first", expiresAt: at(time.Hour), graceEnd: time.Minute, want: time.Minute + 100*time.Millisecond},
		{name: "expiry first", expiresAt: at(time.Minute), graceEnd: time.Hour, want: time.Minute + 100*time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok := newToken("ns", "partner", "prod")
			tok.Spec.ExpiresAt = tt.expiresAt
			s := &tokenScope{token: tok, now: now}
			if tt.graceEnd != 0 {
				s.observation.NextGraceEnd = now.Add(tt.graceEnd)
			}
			if err := (&ApiTokenReconciler{}).reconcileDeadlines(context.Background(), s); err != nil {
				t.Fatal(err)
			}
			if s.requeueAfter != tt.want {
				t.Errorf("requeueAfter = %s, want %s", s.requeueAfter, tt.want)
			}
		})
	}
}
