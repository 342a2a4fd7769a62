package translate_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/appapi-dev/appapi/api/v1alpha1"
	"github.com/appapi-dev/appapi/controllers"
	"github.com/appapi-dev/appapi/internal/translate"
)

func TestResolveSecrets(t *testing.T) {
	consent := map[string]string{v1alpha1.EnvironmentSecretLabel: "true"}
	secrets := map[string]*corev1.Secret{
		"db":      {ObjectMeta: metav1.ObjectMeta{Name: "db", Labels: consent}, Data: map[string][]byte{"password": []byte("hunter2")}},
		"private": {ObjectMeta: metav1.ObjectMeta{Name: "private"}, Data: map[string][]byte{"key": []byte("do-not-read")}},
		"false":   {ObjectMeta: metav1.ObjectMeta{Name: "false", Labels: map[string]string{v1alpha1.EnvironmentSecretLabel: "false"}}, Data: map[string][]byte{"key": []byte("no")}},
		// The manager's own Secrets never give values, whatever their labels say.
		"appapi-prod-credentials": {ObjectMeta: metav1.ObjectMeta{Name: "appapi-prod-credentials", Labels: map[string]string{
			v1alpha1.EnvironmentSecretLabel: "true", controllers.LabelManagedBy: controllers.ManagedByValue}},
			Data: map[string][]byte{"credentials.json": []byte("hashes")}},
	}
	ref := func(name, secret, key string) v1alpha1.EnvironmentSecret {
		return v1alpha1.EnvironmentSecret{Name: name, SecretKeyRef: v1alpha1.SecretKeyReference{Name: secret, Key: key}}
	}
	env := &v1alpha1.Environment{ObjectMeta: metav1.ObjectMeta{Name: "prod"}, Spec: v1alpha1.EnvironmentSpec{Secrets: []v1alpha1.EnvironmentSecret{
		ref("dbPassword", "db", "password"),
		ref("noKey", "db", "user"),
		ref("noSecret", "gone", "x"),
		ref("private", "private", "key"),
		ref("notTrue", "false", "key"),
		ref("credentials", "appapi-prod-credentials", "credentials.json"),
	}}}
	got, err := translate.ResolveSecrets(env, func(name string) (*corev1.Secret, error) { return secrets[name], nil })
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Values) != 1 || got.Values["dbPassword"] != "hunter2" {
		t.Errorf("resolved %d values; want only dbPassword", len(got.Values))
	}
	if want := []string{`noKey (key "user" of Secret "db")`, `noSecret (key "x" of Secret "gone")`}; !slices.Equal(got.Missing, want) {
		t.Errorf("Missing = %q; want %q", got.Missing, want)
	}
	if want := []string{`private (Secret "private")`, `notTrue (Secret "false")`, `credentials (Secret "appapi-prod-credentials")`}; !slices.Equal(got.Refused, want) {
		t.Errorf("Refused = %q; want %q", got.Refused, want)
	}
	for _, s := range append(got.Missing, got.Refused...) {
		if strings.Contains(s, "hunter2") || strings.Contains(s, "do-not-read") || strings.Contains(s, "hashes") {
			t.Errorf("a description holds a value: %s", s)
		}
	}

	boom := errors.New("the API server is away")
	if _, err := translate.ResolveSecrets(env, func(string) (*corev1.Secret, error) { return nil, boom }); !errors.Is(err, boom) {
		t.Errorf("error %v; want the getter's", err)
	}
}

// TestResolveDatastoreURL: the URL of a PostgreSQL datastore follows the
// rule of spec.secrets (exists, consents), must be a postgres:// URL, and
// no description quotes it.
func TestResolveDatastoreURL(t *testing.T) {
	const url = "postgres://app:pg-pa55word@db.shop.svc:5432/app"
	consent := map[string]string{v1alpha1.EnvironmentSecretLabel: "true"}
	secrets := map[string]*corev1.Secret{
		"db":      {ObjectMeta: metav1.ObjectMeta{Name: "db", Labels: consent}, Data: map[string][]byte{"url": []byte(url), "dsn": []byte("host=db password=pg-pa55word")}},
		"private": {ObjectMeta: metav1.ObjectMeta{Name: "private"}, Data: map[string][]byte{"url": []byte(url)}},
	}
	postgres := func(secret, key string) *v1alpha1.Environment {
		return &v1alpha1.Environment{ObjectMeta: metav1.ObjectMeta{Name: "prod"}, Spec: v1alpha1.EnvironmentSpec{Datastore: &v1alpha1.DatastoreSpec{
			Postgres: &v1alpha1.PostgresDatastore{SecretKeyRef: v1alpha1.SecretKeyReference{Name: secret, Key: key}}}}}
	}
	tests := []struct {
		name        string
		env         *v1alpha1.Environment
		wantURL     string
		wantReason  v1alpha1.Reason
		wantMessage string
	}{
		{name: "readable", env: postgres("db", "url"), wantURL: url},
		{name: "no Secret", env: postgres("gone", "url"), wantReason: v1alpha1.ReasonSecretNotFound,
			wantMessage: `spec.datastore.postgres.secretKeyRef: key "url" of Secret "gone" does not exist`},
		{name: "no key", env: postgres("db", "uri"), wantReason: v1alpha1.ReasonSecretNotFound,
			wantMessage: `spec.datastore.postgres.secretKeyRef: key "uri" of Secret "db" does not exist`},
		{name: "no consent", env: postgres("private", "url"), wantReason: v1alpha1.ReasonSecretNotAllowed,
			wantMessage: `spec.datastore.postgres.secretKeyRef: Secret "private" lacks the label appapi.dev/environment-secret=true`},
		{name: "not a URL", env: postgres("db", "dsn"), wantReason: v1alpha1.ReasonDatastoreURLInvalid,
			wantMessage: `spec.datastore.postgres.secretKeyRef: key "dsn" of Secret "db" is not a postgres:// or postgresql:// URL`},
		{name: "sqlite reads nothing", env: &v1alpha1.Environment{Spec: v1alpha1.EnvironmentSpec{Datastore: &v1alpha1.DatastoreSpec{SQLite: &v1alpha1.SQLiteDatastore{}}}}},
		{name: "no datastore", env: &v1alpha1.Environment{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := translate.ResolveSecrets(tt.env, func(name string) (*corev1.Secret, error) { return secrets[name], nil })
			if err != nil {
				t.Fatal(err)
			}
			if got.DatastoreURL != tt.wantURL {
				// Not printed: it is a secret.
				t.Errorf("DatastoreURL set: %v, want set: %v, or another value", got.DatastoreURL != "", tt.wantURL != "")
			}
			if tt.wantReason == "" {
				if got.DatastoreProblem != nil {
					t.Errorf("DatastoreProblem = %+v, want none", got.DatastoreProblem)
				}
				return
			}
			p := got.DatastoreProblem
			if p == nil || p.Reason != tt.wantReason || !strings.HasPrefix(p.Message, tt.wantMessage) {
				t.Fatalf("DatastoreProblem = %+v, want %s starting %q", p, tt.wantReason, tt.wantMessage)
			}
			if strings.Contains(p.Message, "pg-pa55word") {
				t.Errorf("the message quotes the URL: %s", p.Message)
			}
		})
	}
}
