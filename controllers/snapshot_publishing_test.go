package controllers

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/appapi-dev/appapi/api/v1alpha1"
	"github.com/appapi-dev/appapi/internal/snapshot"
)

// servedGeneration waits for the snapshot to serve the AppAPI at generation
// gen and returns how long that took.
func waitServed(t *testing.T, ns, env, name string, gen int64) time.Duration {
	t.Helper()
	return eventually(t, fmt.Sprintf("%s generation %d is published", name, gen), func() error {
		s, err := readSnapshot(ns, env)
		if err != nil {
			return err
		}
		r := findRoute(s, name)
		if r == nil || r.Generation != gen {
			return fmt.Errorf("route %+v", r)
		}
		return nil
	})
}

func getAppAPI(t *testing.T, ns, name string) *v1alpha1.AppAPI {
	t.Helper()
	app := &v1alpha1.AppAPI{}
	if err := get(t, ns, name, app); err != nil {
		t.Fatal(err)
	}
	return app
}

func waitAppAPI(t *testing.T, ns, name string, accepted metav1.ConditionStatus, acceptedReason string, ready metav1.ConditionStatus, readyReason string) *v1alpha1.AppAPI {
	t.Helper()
	app := &v1alpha1.AppAPI{}
	eventually(t, fmt.Sprintf("%s is %s/%s", name, acceptedReason, readyReason), func() error {
		if err := get(t, ns, name, app); err != nil {
			return err
		}
		if err := wantCondition(app, app.Status.Conditions, v1alpha1.ConditionAccepted, accepted, acceptedReason); err != nil {
			return err
		}
		return wantCondition(app, app.Status.Conditions, v1alpha1.ConditionReady, ready, readyReason)
	})
	return app
}

func updateAppAPI(t *testing.T, ns, name string, mutate func(*v1alpha1.AppAPI)) {
	t.Helper()
	eventually(t, "update "+name, func() error {
		app := &v1alpha1.AppAPI{}
		if err := get(t, ns, name, app); err != nil {
			return err
		}
		mutate(app)
		return k8sClient.Update(context.Background(), app)
	})
}

func TestAppAPIChangesReachTheSnapshot(t *testing.T) {
	ns := newNamespace(t)
	create(t, newEnvironment(ns, "prod"))
	create(t, newAppAPI(ns, "hello", "prod", "GET", "/hello/{name}", "'hello ' + request.params.name"))
	took := waitServed(t, ns, "prod", "hello", 1)
	t.Logf("new AppAPI published in %s", took)

	app := waitAppAPI(t, ns, "hello", metav1.ConditionTrue, v1alpha1.ReasonAccepted, metav1.ConditionTrue, v1alpha1.ReasonServed)
	if app.Status.ServedGeneration != 1 || !strings.HasSuffix(app.Status.URL, ".svc/hello/{name}") {
		t.Errorf("status = %+v", app.Status)
	}
	if s, err := kstatus(app); err != nil || s != "Current" {
		t.Errorf("kstatus = %s, %v; want Current", s, err)
	}

	updateAppAPI(t, ns, "hello", func(a *v1alpha1.AppAPI) { a.Spec.Steps[0].Transform.Value = "'bonjour ' + request.params.name" })
	took = waitServed(t, ns, "prod", "hello", 2)
	t.Logf("edit published in %s", took)
	s, _ := readSnapshot(ns, "prod")
	if got := findRoute(s, "hello").Steps[0].Transform.Value; !strings.Contains(got, "bonjour") {
		t.Errorf("published step = %q", got)
	}

	if err := k8sClient.Delete(context.Background(), app); err != nil {
		t.Fatal(err)
	}
	took = eventually(t, "the deleted AppAPI leaves the snapshot", func() error {
		s, err := readSnapshot(ns, "prod")
		if err != nil {
			return err
		}
		if findRoute(s, "hello") != nil {
			return fmt.Errorf("still published")
		}
		return nil
	})
	t.Logf("deletion published in %s", took)
}

func TestRefusedAppAPIKeepsItsLastAcceptedGeneration(t *testing.T) {
	ns := newNamespace(t)
	create(t, newEnvironment(ns, "prod"))
	create(t, newAppAPI(ns, "hello", "prod", "GET", "/hello", "'hello'"))
	waitServed(t, ns, "prod", "hello", 1)

	updateAppAPI(t, ns, "hello", func(a *v1alpha1.AppAPI) { a.Spec.Steps[0].Transform.Value = "'hello' +" })
	create(t, newAppAPI(ns, "neighbour", "prod", "GET", "/neighbour", "'unaffected'"))
	app := waitAppAPI(t, ns, "hello", metav1.ConditionFalse, v1alpha1.ReasonInvalidExpression, metav1.ConditionFalse, v1alpha1.ReasonServingPreviousGeneration)
	accepted, _ := condition(app.Status.Conditions, v1alpha1.ConditionAccepted)
	if !strings.Contains(accepted.Message, "spec.steps[0].transform.value") || !strings.Contains(accepted.Message, "1:10") {
		t.Errorf("Accepted message %q does not say where the problem is", accepted.Message)
	}
	if app.Status.ServedGeneration != 1 || app.Generation != 2 {
		t.Errorf("servedGeneration %d, generation %d; want 1 and 2", app.Status.ServedGeneration, app.Generation)
	}
	waitServed(t, ns, "prod", "neighbour", 1)
	s, _ := readSnapshot(ns, "prod")
	if r := findRoute(s, "hello"); r == nil || r.Generation != 1 || r.Steps[0].Transform.Value != "'hello'" {
		t.Fatalf("the last accepted generation is not served: %+v", r)
	}
	wantEvent(t, ns, "hello", v1alpha1.ReasonInvalidExpression)
	if s, err := kstatus(app); err != nil || s != "Failed" {
		t.Errorf("kstatus = %s, %v; a refused generation that needs an edit is Failed, not InProgress", s, err)
	}

	// Fixing it serves the new generation.
	updateAppAPI(t, ns, "hello", func(a *v1alpha1.AppAPI) { a.Spec.Steps[0].Transform.Value = "'hello again'" })
	waitServed(t, ns, "prod", "hello", 3)
	app = waitAppAPI(t, ns, "hello", metav1.ConditionTrue, v1alpha1.ReasonAccepted, metav1.ConditionTrue, v1alpha1.ReasonServed)
	if _, err := condition(app.Status.Conditions, v1alpha1.ConditionStalled); err == nil {
		t.Errorf("Stalled stayed after the fix: %v", app.Status.Conditions)
	}
}

func TestPathConflictOlderAppAPIKeepsThePath(t *testing.T) {
	ns := newNamespace(t)
	create(t, newEnvironment(ns, "prod"))
	create(t, newAppAPI(ns, "orders-v1", "prod", "GET", "/orders/{id}", "'v1'"))
	waitServed(t, ns, "prod", "orders-v1", 1)
	// creationTimestamp has one-second resolution: make the order certain.
	time.Sleep(1100 * time.Millisecond)
	create(t, newAppAPI(ns, "orders-v2", "prod", "GET", "/orders/{orderId}", "'v2'"))

	newer := waitAppAPI(t, ns, "orders-v2", metav1.ConditionFalse, v1alpha1.ReasonPathConflict, metav1.ConditionFalse, v1alpha1.ReasonNotServed)
	c, _ := condition(newer.Status.Conditions, v1alpha1.ConditionAccepted)
	if !strings.Contains(c.Message, `"orders-v1"`) {
		t.Errorf("PathConflict message %q does not name the AppAPI that holds the path", c.Message)
	}
	waitAppAPI(t, ns, "orders-v1", metav1.ConditionTrue, v1alpha1.ReasonAccepted, metav1.ConditionTrue, v1alpha1.ReasonServed)

	if err := k8sClient.Delete(context.Background(), getAppAPI(t, ns, "orders-v1")); err != nil {
		t.Fatal(err)
	}
	waitServed(t, ns, "prod", "orders-v2", 1)
	waitAppAPI(t, ns, "orders-v2", metav1.ConditionTrue, v1alpha1.ReasonAccepted, metav1.ConditionTrue, v1alpha1.ReasonServed)
}

func TestAppAPIOfAMissingEnvironment(t *testing.T) {
	ns := newNamespace(t)
	create(t, newAppAPI(ns, "lost", "nowhere", "GET", "/lost", "1"))
	app := waitAppAPI(t, ns, "lost", metav1.ConditionFalse, v1alpha1.ReasonEnvironmentNotFound, metav1.ConditionFalse, v1alpha1.ReasonNotServed)
	if s, err := kstatus(app); err != nil || s == "Current" {
		t.Errorf("kstatus = %s, %v; an AppAPI nothing serves must not look healthy", s, err)
	}
	create(t, newEnvironment(ns, "nowhere"))
	waitServed(t, ns, "nowhere", "lost", 1)
}

func TestEnvironmentSecretsArePublishedOnlyInTheCredentialsSecret(t *testing.T) {
	ns := newNamespace(t)
	const value = "s3cret-value-0123456789"
	const url = "postgres://shop:pg-s3cret-9876543210@db.shop.svc:5432/shop"
	create(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "jwt", Labels: map[string]string{v1alpha1.EnvironmentSecretLabel: "true"}},
		Data: map[string][]byte{"key": []byte(value), "url": []byte(url)}})
	env := newEnvironment(ns, "prod")
	env.Spec.Datastore = &v1alpha1.DatastoreSpec{Postgres: &v1alpha1.PostgresDatastore{SecretKeyRef: v1alpha1.SecretKeyReference{Name: "jwt", Key: "url"}}}
	env.Spec.Secrets = []v1alpha1.EnvironmentSecret{
		{Name: "signing", SecretKeyRef: v1alpha1.SecretKeyReference{Name: "jwt", Key: "key"}},
		{Name: "missing", SecretKeyRef: v1alpha1.SecretKeyReference{Name: "nope", Key: "key"}},
	}
	create(t, env)
	login := newAppAPI(ns, "login", "prod", "POST", "/login", "1")
	login.Spec.Steps = []v1alpha1.Step{{Name: "sign", JWT: &v1alpha1.JWTOperation{Algorithm: "HS256", Key: "signing", Claims: "{'sub': 'x'}"}}}
	login.Spec.Response.Body = "steps.sign"
	create(t, login)
	broken := newAppAPI(ns, "broken", "prod", "POST", "/broken", "1")
	broken.Spec.Steps = []v1alpha1.Step{{Name: "sign", JWT: &v1alpha1.JWTOperation{Algorithm: "HS256", Key: "missing", Claims: "{}"}}}
	broken.Spec.Response.Body = "steps.sign"
	create(t, broken)

	waitServed(t, ns, "prod", "login", 1)
	s, _ := readSnapshot(ns, "prod")
	if s.Credentials.Secrets["signing"] != value {
		t.Fatalf("the secret value is not in the published credentials")
	}
	if s.Credentials.DatastoreURL != url {
		t.Fatalf("the datastore's URL is not in the published credentials")
	}
	waitAppAPI(t, ns, "broken", metav1.ConditionFalse, v1alpha1.ReasonSecretRefNotFound, metav1.ConditionFalse, v1alpha1.ReasonNotServed)
	eventually(t, "the Environment reports the missing secret", func() error {
		if err := get(t, ns, "prod", env); err != nil {
			return err
		}
		return wantCondition(env, env.Status.Conditions, v1alpha1.ConditionReady, metav1.ConditionFalse, v1alpha1.ReasonSecretNotFound)
	})
	ready, _ := condition(env.Status.Conditions, v1alpha1.ConditionReady)
	if !strings.Contains(ready.Message, `"nope"`) {
		t.Errorf("Ready message %q does not name the missing Secret", ready.Message)
	}
	assertNotOutsideSecrets(t, ns, value, url, "pg-s3cret-9876543210")
}

// TestEnvironmentReadsOnlySecretsThatConsent: a Secret without the label
// appapi.dev/environment-secret=true is not read, so editing an Environment
// does not give access to the namespace's other Secrets, nor to tokens.
func TestEnvironmentReadsOnlySecretsThatConsent(t *testing.T) {
	ns := newNamespace(t)
	const password = "payments-db-password-0123"
	create(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "payments-db"}, Data: map[string][]byte{"password": []byte(password)}})
	create(t, newEnvironment(ns, "other"))
	create(t, newToken(ns, "victim", "other"))
	tokenText(t, ns, "victim-token")
	env := newEnvironment(ns, "prod")
	env.Spec.Secrets = []v1alpha1.EnvironmentSecret{
		{Name: "db", SecretKeyRef: v1alpha1.SecretKeyReference{Name: "payments-db", Key: "password"}},
		{Name: "stolen", SecretKeyRef: v1alpha1.SecretKeyReference{Name: "victim-token", Key: v1alpha1.TokenSecretKey}},
	}
	create(t, env)
	eventually(t, "the Environment refuses the Secrets", func() error {
		if err := get(t, ns, "prod", env); err != nil {
			return err
		}
		return wantCondition(env, env.Status.Conditions, v1alpha1.ConditionReady, metav1.ConditionFalse, v1alpha1.ReasonSecretNotAllowed)
	})
	s, err := readSnapshot(ns, "prod")
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Credentials.Secrets) != 0 {
		t.Fatalf("secret values were published without consent: %d", len(s.Credentials.Secrets))
	}
}

// TestPublishTenThousandRoutes writes a 10,000-route snapshot to the API
// server and reads it back, as a gateway would.
func TestPublishTenThousandRoutes(t *testing.T) {
	ns := newNamespace(t)
	env := newEnvironment(ns, "big")
	create(t, env)
	waitServed := func() error { _, err := readSnapshot(ns, "big"); return err }
	eventually(t, "the first snapshot", waitServed)
	// Stop the controller from rewriting the objects underneath the test.
	if err := k8sClient.Delete(context.Background(), env); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the Environment is gone", func() error {
		if err := get(t, ns, "big", &v1alpha1.Environment{}); err == nil {
			return fmt.Errorf("still there")
		}
		return nil
	})
	env = newEnvironment(ns, "big")
	env.UID = "test"
	big := &snapshot.Snapshot{Header: snapshot.Header{Version: snapshot.Version, Namespace: ns, Environment: "big", Generation: 1, Settings: snapshot.Settings{MaxRequestBytes: 1, RequestTimeout: snapshot.Duration(time.Second)}}}
	for i := range 10000 {
		big.Routes = append(big.Routes, tenThousandRoute(i))
	}
	enc, err := snapshot.Encode(big)
	if err != nil {
		t.Fatal(err)
	}
	if err := snapshotWriter(k8sClient, env).Write(context.Background(), enc); err != nil {
		t.Fatalf("the API server refused a 10,000-route snapshot: %v", err)
	}
	got, err := readSnapshot(ns, "big")
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Routes) != 10000 || len(enc.Shards) < 2 {
		t.Fatalf("read back %d routes from %d shards", len(got.Routes), len(enc.Shards))
	}
	t.Logf("10,000 routes published in %d shards", len(enc.Shards))
}

// tenThousandRoute is a realistic AppAPI with text unique to it, so that
// compression cannot make the test easy.
func tenThousandRoute(i int) snapshot.Route {
	unique := snapshot.HashToken(fmt.Sprint(i))
	return snapshot.Route{
		Name: fmt.Sprintf("orders-%05d", i), UID: unique[:36], Generation: 1, Method: "GET",
		Path:           fmt.Sprintf("/tenants/t%05d/orders/{orderId}", i),
		Authentication: v1alpha1.Authentication{Mode: v1alpha1.AuthenticationToken, AllowedTokens: []string{"ci"}},
		Steps: []v1alpha1.Step{
			{Name: "order", HTTP: &v1alpha1.HTTPOperation{Method: "GET",
				URL: "http://orders.shop.svc/api/" + unique[:16] + "/orders/{{ request.params.orderId }}"}},
			{Name: "shape", Transform: &v1alpha1.TransformOperation{Value: "{'order': steps.order.body, 'tag': '" + unique + "'}"}},
		},
		Response: v1alpha1.Response{Headers: map[string]string{"X-Owner": snapshot.HashToken(unique) + snapshot.HashToken(unique+"2")}},
	}
}

// TestInvalidSnapshotIsNeverPublished hands the publisher a snapshot that
// fails validation: nothing is written and the error names the reason.
func TestInvalidSnapshotIsNeverPublished(t *testing.T) {
	ns := newNamespace(t)
	env := newEnvironment(ns, "broken")
	env.UID = "test"
	bad := &snapshot.Snapshot{Header: snapshot.Header{Version: snapshot.Version, Namespace: ns, Environment: "broken", Settings: snapshot.Settings{MaxRequestBytes: 1, RequestTimeout: snapshot.Duration(time.Second)}},
		Routes: []snapshot.Route{tenThousandRoute(1), tenThousandRoute(1)}}
	r := &EnvironmentReconciler{Client: k8sClient}
	err := r.publish(context.Background(), &environmentScope{env: env, state: &environmentState{}}, bad)
	var serr *snapshotError
	if !errors.As(err, &serr) || serr.reason != v1alpha1.ReasonSnapshotInvalid || !strings.Contains(err.Error(), "name appears twice") {
		t.Fatalf("publish() = %v, want SnapshotInvalid", err)
	}
	if _, err := readSnapshot(ns, "broken"); !apierrors.IsNotFound(err) {
		t.Fatalf("something was published: %v", err)
	}
}
