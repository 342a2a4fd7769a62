package crdvalidation

import (
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/appapi-dev/appapi/api/v1alpha1"
)

const (
	tokenEnvironmentImmutable = "environment is immutable"
	tokenSecretNameImmutable  = "secretName is immutable"
	tokenNameTooLong          = "metadata.name must be at most 63 characters"
	secretNamePattern         = "spec.secretName in body should match"
)

// baseApiToken is a valid ApiToken; each case changes it.
func baseApiToken(ns, name string) *v1alpha1.ApiToken {
	return &v1alpha1.ApiToken{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       v1alpha1.ApiTokenSpec{Environment: "prod"},
	}
}

func TestApiToken(t *testing.T) {
	ns := newNamespace(t)

	cases := []struct {
		desc       string
		mutate     func(*v1alpha1.ApiToken)
		unset      []string
		wantErrors []string
	}{
		{
			desc:   "minimal",
			mutate: func(*v1alpha1.ApiToken) {},
		},
		{
			desc: "every field set",
			mutate: func(tok *v1alpha1.ApiToken) {
				tok.Annotations = map[string]string{v1alpha1.RotateAnnotation: "2026-01-02T03:04:05Z"}
				tok.Spec.Description = "mobile app, release 4"
				tok.Spec.ExpiresAt = &metav1.Time{Time: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
				tok.Spec.SecretName = "mobile-app.token"
				tok.Spec.RotationGracePeriod = "24h"
			},
		},
		{
			desc:       "missing environment",
			mutate:     func(*v1alpha1.ApiToken) {},
			unset:      []string{"spec.environment"},
			wantErrors: []string{"spec.environment: Required value"},
		},
		{
			desc:       "empty environment",
			mutate:     func(tok *v1alpha1.ApiToken) { tok.Spec.Environment = "" },
			wantErrors: []string{"spec.environment:", "should be at least 1 chars long"},
		},
		{
			desc:       "environment name too long",
			mutate:     func(tok *v1alpha1.ApiToken) { tok.Spec.Environment = strings.Repeat("e", 64) },
			wantErrors: []string{"spec.environment:", "may not be more than 63"},
		},
		{
			desc:       "description too long",
			mutate:     func(tok *v1alpha1.ApiToken) { tok.Spec.Description = strings.Repeat("d", 257) },
			wantErrors: []string{"spec.description:", "may not be more than 256"},
		},
		{
			desc:       "secretName with uppercase letters",
			mutate:     func(tok *v1alpha1.ApiToken) { tok.Spec.SecretName = "MyToken" },
			wantErrors: []string{secretNamePattern},
		},
		{
			desc:       "secretName with an underscore",
			mutate:     func(tok *v1alpha1.ApiToken) { tok.Spec.SecretName = "my_token" },
			wantErrors: []string{secretNamePattern},
		},
		{
			desc:       "secretName ending with a dash",
			mutate:     func(tok *v1alpha1.ApiToken) { tok.Spec.SecretName = "my-token-" },
			wantErrors: []string{secretNamePattern},
		},
		{
			desc:       "secretName too long",
			mutate:     func(tok *v1alpha1.ApiToken) { tok.Spec.SecretName = strings.Repeat("s", 254) },
			wantErrors: []string{"spec.secretName:", "may not be more than 253"},
		},
		{
			desc:   "rotationGracePeriod 0s",
			mutate: func(tok *v1alpha1.ApiToken) { tok.Spec.RotationGracePeriod = "0s" },
		},
		{
			desc:   "rotationGracePeriod 8760h, the maximum",
			mutate: func(tok *v1alpha1.ApiToken) { tok.Spec.RotationGracePeriod = "8760h" },
		},
		{
			desc:       "rotationGracePeriod forever",
			mutate:     func(tok *v1alpha1.ApiToken) { tok.Spec.RotationGracePeriod = "forever" },
			wantErrors: []string{"spec.rotationGracePeriod:", durationFormat},
		},
		{
			desc:       "rotationGracePeriod in days",
			mutate:     func(tok *v1alpha1.ApiToken) { tok.Spec.RotationGracePeriod = "7d" },
			wantErrors: []string{"spec.rotationGracePeriod:", durationFormat},
		},
		{
			desc:       "rotationGracePeriod over a year",
			mutate:     func(tok *v1alpha1.ApiToken) { tok.Spec.RotationGracePeriod = "8761h" },
			wantErrors: []string{"spec.rotationGracePeriod:", "must be at most 8760h (one year)"},
		},
		{
			desc:   "name of 63 characters",
			mutate: func(tok *v1alpha1.ApiToken) { tok.Name = "t" + strings.Repeat("x", 62) },
		},
		{
			desc:       "name of 64 characters",
			mutate:     func(tok *v1alpha1.ApiToken) { tok.Name = "t" + strings.Repeat("x", 63) },
			wantErrors: []string{tokenNameTooLong},
		},
		{
			desc:       "name with a dot",
			mutate:     func(tok *v1alpha1.ApiToken) { tok.Name = "mobile.app" },
			wantErrors: []string{nameNotLabel},
		},
		{
			desc:       "name with uppercase letters",
			mutate:     func(tok *v1alpha1.ApiToken) { tok.Name = "Mobile" },
			wantErrors: []string{"metadata.name:", "RFC 1123"},
		},
	}

	for i, tc := range cases {
		t.Run(tc.desc, func(t *testing.T) {
			tok := baseApiToken(ns, caseName(i))
			tc.mutate(tok)
			checkErrors(t, create(t.Context(), tok, tc.unset), tc.wantErrors)
		})
	}
}

// TestApiTokenUpdate checks the rules that compare an update with the stored
// object: spec.environment and spec.secretName never change.
func TestApiTokenUpdate(t *testing.T) {
	ns := newNamespace(t)

	cases := []struct {
		desc       string
		initial    func(*v1alpha1.ApiToken) // the object as first created
		mutate     func(*v1alpha1.ApiToken) // the update
		wantErrors []string
	}{
		{
			desc:    "change the description",
			initial: func(*v1alpha1.ApiToken) {},
			mutate:  func(tok *v1alpha1.ApiToken) { tok.Spec.Description = "reporting job" },
		},
		{
			desc:    "set expiresAt and rotationGracePeriod",
			initial: func(*v1alpha1.ApiToken) {},
			mutate: func(tok *v1alpha1.ApiToken) {
				tok.Spec.ExpiresAt = &metav1.Time{Time: time.Date(2031, 6, 1, 0, 0, 0, 0, time.UTC)}
				tok.Spec.RotationGracePeriod = "1h"
			},
		},
		{
			desc:    "rotate with the annotation",
			initial: func(*v1alpha1.ApiToken) {},
			mutate: func(tok *v1alpha1.ApiToken) {
				tok.Annotations = map[string]string{v1alpha1.RotateAnnotation: "2026-05-01T00:00:00Z"}
			},
		},
		{
			desc:       "change the environment",
			initial:    func(*v1alpha1.ApiToken) {},
			mutate:     func(tok *v1alpha1.ApiToken) { tok.Spec.Environment = "staging" },
			wantErrors: []string{"spec.environment:", tokenEnvironmentImmutable},
		},
		{
			desc:    "keep secretName, change the description",
			initial: func(tok *v1alpha1.ApiToken) { tok.Spec.SecretName = "reporting-token" },
			mutate:  func(tok *v1alpha1.ApiToken) { tok.Spec.Description = "reporting job" },
		},
		{
			desc:       "change secretName",
			initial:    func(tok *v1alpha1.ApiToken) { tok.Spec.SecretName = "reporting-token" },
			mutate:     func(tok *v1alpha1.ApiToken) { tok.Spec.SecretName = "reporting-token-2" },
			wantErrors: []string{"spec:", tokenSecretNameImmutable},
		},
		{
			desc:       "set secretName when it was unset",
			initial:    func(*v1alpha1.ApiToken) {},
			mutate:     func(tok *v1alpha1.ApiToken) { tok.Spec.SecretName = "reporting-token" },
			wantErrors: []string{"spec:", tokenSecretNameImmutable},
		},
		{
			desc:       "unset secretName",
			initial:    func(tok *v1alpha1.ApiToken) { tok.Spec.SecretName = "reporting-token" },
			mutate:     func(tok *v1alpha1.ApiToken) { tok.Spec.SecretName = "" },
			wantErrors: []string{"spec:", tokenSecretNameImmutable},
		},
		{
			desc:       "change both",
			initial:    func(tok *v1alpha1.ApiToken) { tok.Spec.SecretName = "reporting-token" },
			mutate:     func(tok *v1alpha1.ApiToken) { tok.Spec.Environment, tok.Spec.SecretName = "staging", "other-token" },
			wantErrors: []string{tokenEnvironmentImmutable, tokenSecretNameImmutable},
		},
	}

	for i, tc := range cases {
		t.Run(tc.desc, func(t *testing.T) {
			tok := baseApiToken(ns, caseName(i))
			tc.initial(tok)
			if err := k8sClient.Create(t.Context(), tok); err != nil {
				t.Fatalf("creating the initial ApiToken: %v", err)
			}
			// Update what the API server stored, as kubectl edit would.
			var stored v1alpha1.ApiToken
			if err := k8sClient.Get(t.Context(), client.ObjectKeyFromObject(tok), &stored); err != nil {
				t.Fatalf("reading the ApiToken back: %v", err)
			}
			tc.mutate(&stored)
			checkErrors(t, k8sClient.Update(t.Context(), &stored), tc.wantErrors)
		})
	}
}
