package crdvalidation

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/appapi-dev/appapi/api/v1alpha1"
)

const (
	envTimeoutRange = "must be more than 0s and at most 1h"
	envNameTooLong  = "metadata.name must be at most 56 characters"
)

// baseEnvironment is a valid Environment; each case changes it.
func baseEnvironment(ns, name string) *v1alpha1.Environment {
	return &v1alpha1.Environment{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
	}
}

func envSecret(name, secret, key string) v1alpha1.EnvironmentSecret {
	return v1alpha1.EnvironmentSecret{
		Name:         name,
		SecretKeyRef: v1alpha1.SecretKeyReference{Name: secret, Key: key},
	}
}

func TestEnvironment(t *testing.T) {
	ns := newNamespace(t)

	cases := []struct {
		desc       string
		mutate     func(*v1alpha1.Environment)
		unset      []string
		wantErrors []string
	}{
		{
			desc:   "minimal",
			mutate: func(*v1alpha1.Environment) {},
		},
		{
			desc: "every field set",
			mutate: func(e *v1alpha1.Environment) {
				e.Spec = v1alpha1.EnvironmentSpec{
					Gateway: v1alpha1.GatewaySpec{
						Replicas: new(int32(3)),
						Image:    "registry.example.com/appapi-gateway:v1",
						Resources: &corev1.ResourceRequirements{
							Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m")},
							Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("128Mi")},
						},
					},
					MaxRequestBytes: new(int64(1 << 20)),
					RequestTimeout:  "1m30s",
					Variables:       map[string]string{"crmBaseURL": "https://crm.example.com", "region": "eu"},
					Secrets: []v1alpha1.EnvironmentSecret{
						envSecret("crm_api_key", "crm", "api-key"),
						envSecret("jwtKey", "signing", "key.pem"),
					},
				}
			},
		},
		{
			desc:   "zero replicas",
			mutate: func(e *v1alpha1.Environment) { e.Spec.Gateway.Replicas = new(int32(0)) },
		},
		{
			desc:       "negative replicas",
			mutate:     func(e *v1alpha1.Environment) { e.Spec.Gateway.Replicas = new(int32(-1)) },
			wantErrors: []string{"spec.gateway.replicas:", "should be greater than or equal to 0"},
		},
		{
			desc:       "too many replicas",
			mutate:     func(e *v1alpha1.Environment) { e.Spec.Gateway.Replicas = new(int32(101)) },
			wantErrors: []string{"spec.gateway.replicas:", "should be less than or equal to 100"},
		},
		{
			desc:   "requestTimeout 1h, the maximum",
			mutate: func(e *v1alpha1.Environment) { e.Spec.RequestTimeout = "1h" },
		},
		{
			desc:   "requestTimeout 500ms",
			mutate: func(e *v1alpha1.Environment) { e.Spec.RequestTimeout = "500ms" },
		},
		{
			desc:   "requestTimeout 1.5s",
			mutate: func(e *v1alpha1.Environment) { e.Spec.RequestTimeout = "1.5s" },
		},
		{
			desc:       "requestTimeout 0s",
			mutate:     func(e *v1alpha1.Environment) { e.Spec.RequestTimeout = "0s" },
			wantErrors: []string{"spec.requestTimeout:", envTimeoutRange},
		},
		{
			desc:       "requestTimeout 2h",
			mutate:     func(e *v1alpha1.Environment) { e.Spec.RequestTimeout = "2h" },
			wantErrors: []string{"spec.requestTimeout:", envTimeoutRange},
		},
		{
			desc:       "requestTimeout 1h0m1s",
			mutate:     func(e *v1alpha1.Environment) { e.Spec.RequestTimeout = "1h0m1s" },
			wantErrors: []string{"spec.requestTimeout:", envTimeoutRange},
		},
		{
			desc:       "requestTimeout abc",
			mutate:     func(e *v1alpha1.Environment) { e.Spec.RequestTimeout = "abc" },
			wantErrors: []string{"spec.requestTimeout:", durationFormat},
		},
		{
			desc:       "requestTimeout without a unit",
			mutate:     func(e *v1alpha1.Environment) { e.Spec.RequestTimeout = "30" },
			wantErrors: []string{"spec.requestTimeout:", durationFormat},
		},
		{
			desc:       "requestTimeout in days",
			mutate:     func(e *v1alpha1.Environment) { e.Spec.RequestTimeout = "1d" },
			wantErrors: []string{"spec.requestTimeout:", durationFormat},
		},
		{
			desc:       "requestTimeout negative",
			mutate:     func(e *v1alpha1.Environment) { e.Spec.RequestTimeout = "-5s" },
			wantErrors: []string{"spec.requestTimeout:", durationFormat},
		},
		{
			desc:       "maxRequestBytes 0",
			mutate:     func(e *v1alpha1.Environment) { e.Spec.MaxRequestBytes = new(int64(0)) },
			wantErrors: []string{"spec.maxRequestBytes:", "should be greater than or equal to 1"},
		},
		{
			desc:       "maxRequestBytes over 1 GiB",
			mutate:     func(e *v1alpha1.Environment) { e.Spec.MaxRequestBytes = new(int64(1<<30 + 1)) },
			wantErrors: []string{"spec.maxRequestBytes:", "should be less than or equal to 1073741824"},
		},
		{
			desc: "duplicate secret names",
			mutate: func(e *v1alpha1.Environment) {
				e.Spec.Secrets = []v1alpha1.EnvironmentSecret{
					envSecret("apiKey", "crm", "key"),
					envSecret("other", "crm", "other"),
					envSecret("apiKey", "billing", "key"),
				}
			},
			wantErrors: []string{"spec:", "secrets: names must be unique"},
		},
		{
			desc: "secret name with a dash",
			mutate: func(e *v1alpha1.Environment) {
				e.Spec.Secrets = []v1alpha1.EnvironmentSecret{envSecret("api-key", "crm", "key")}
			},
			wantErrors: []string{"spec.secrets[0].name:", identifierPattern},
		},
		{
			desc: "secret name starting with a digit",
			mutate: func(e *v1alpha1.Environment) {
				e.Spec.Secrets = []v1alpha1.EnvironmentSecret{envSecret("1key", "crm", "key")}
			},
			wantErrors: []string{"spec.secrets[0].name:", identifierPattern},
		},
		{
			desc: "secret with an empty key",
			mutate: func(e *v1alpha1.Environment) {
				e.Spec.Secrets = []v1alpha1.EnvironmentSecret{envSecret("apiKey", "crm", "")}
			},
			wantErrors: []string{"spec.secrets[0].secretKeyRef.key:", "should be at least 1 chars long"},
		},
		{
			desc:       "no spec",
			mutate:     func(*v1alpha1.Environment) {},
			unset:      []string{"spec"},
			wantErrors: []string{"spec: Required value"},
		},
		{
			desc:   "name of 56 characters",
			mutate: func(e *v1alpha1.Environment) { e.Name = "e" + strings.Repeat("x", 55) },
		},
		{
			desc:       "name of 57 characters",
			mutate:     func(e *v1alpha1.Environment) { e.Name = "e" + strings.Repeat("x", 56) },
			wantErrors: []string{envNameTooLong},
		},
		{
			desc:       "name with a dot",
			mutate:     func(e *v1alpha1.Environment) { e.Name = "prod.eu" },
			wantErrors: []string{nameNotLabel},
		},
		{
			desc:       "name with a dot and too long",
			mutate:     func(e *v1alpha1.Environment) { e.Name = "prod." + strings.Repeat("x", 60) },
			wantErrors: []string{envNameTooLong, nameNotLabel},
		},
		{
			desc:       "name with uppercase letters",
			mutate:     func(e *v1alpha1.Environment) { e.Name = "Prod" },
			wantErrors: []string{"metadata.name:", "RFC 1123"},
		},
	}

	for i, tc := range cases {
		t.Run(tc.desc, func(t *testing.T) {
			e := baseEnvironment(ns, caseName(i))
			tc.mutate(e)
			checkErrors(t, create(t.Context(), e, tc.unset), tc.wantErrors)
		})
	}
}

func TestEnvironmentDefaults(t *testing.T) {
	ns := newNamespace(t)
	u := applyYAML(t, ns, `
apiVersion: appapi.dev/v1alpha1
kind: Environment
metadata:
  name: minimal
spec: {}
`)

	var got v1alpha1.Environment
	if err := k8sClient.Get(t.Context(), client.ObjectKeyFromObject(u), &got); err != nil {
		t.Fatalf("reading the Environment back: %v", err)
	}
	if r := got.Spec.Gateway.Replicas; r == nil || *r != 1 {
		t.Errorf("spec.gateway.replicas = %v, want 1", deref(r))
	}
	if b := got.Spec.MaxRequestBytes; b == nil || *b != v1alpha1.DefaultMaxRequestBytes {
		t.Errorf("spec.maxRequestBytes = %v, want %d", deref(b), v1alpha1.DefaultMaxRequestBytes)
	}
	if got.Spec.RequestTimeout != "30s" {
		t.Errorf("spec.requestTimeout = %q, want 30s", got.Spec.RequestTimeout)
	}
	if got.Spec.Gateway.Image != "" || got.Spec.Gateway.Resources != nil {
		t.Errorf("spec.gateway = %+v, want only replicas defaulted", got.Spec.Gateway)
	}
}

// deref shows a pointer's value in a failure message.
func deref[T any](p *T) any {
	if p == nil {
		return "<unset>"
	}
	return *p
}
