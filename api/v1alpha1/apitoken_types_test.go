package v1alpha1

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestApiTokenHelpers(t *testing.T) {
	tok := &ApiToken{ObjectMeta: metav1.ObjectMeta{Name: "partner"}}
	if tok.TokenSecretName() != "partner-token" || tok.Expiry() != nil || tok.RotationRequested("") {
		t.Fatalf("defaults: secret %q, expiry %v, rotation %v", tok.TokenSecretName(), tok.Expiry(), tok.RotationRequested(""))
	}
	at := metav1.NewTime(time.Date(2027, 1, 2, 3, 4, 5, 0, time.FixedZone("CET", 3600)))
	tok.Spec.ExpiresAt, tok.Spec.SecretName = &at, "given"
	tok.Annotations = map[string]string{RotateAnnotation: "2"}
	if e := tok.Expiry(); e == nil || !e.Equal(at.Time) || e.Location() != time.UTC {
		t.Errorf("Expiry() = %v, want %v in UTC", e, at)
	}
	if tok.TokenSecretName() != "given" {
		t.Errorf("TokenSecretName() = %q", tok.TokenSecretName())
	}
	if !tok.RotationRequested("1") || tok.RotationRequested("2") {
		t.Error("a new annotation value must rotate once, the handled one never again")
	}
}
