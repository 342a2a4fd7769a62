package controllers

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/appapi-dev/appapi/api/v1alpha1"
	"github.com/appapi-dev/appapi/internal/snapshot"
)

func sqliteEnvironment(ns, name, storage string, class *string) *v1alpha1.Environment {
	env := newEnvironment(ns, name)
	env.Spec.Datastore = &v1alpha1.DatastoreSpec{SQLite: &v1alpha1.SQLiteDatastore{StorageClassName: class}}
	if storage != "" {
		env.Spec.Datastore.SQLite.Storage = ptr.To(resource.MustParse(storage))
	}
	return env
}

func postgresEnvironment(ns, name, secret, key string) *v1alpha1.Environment {
	env := newEnvironment(ns, name)
	env.Spec.Datastore = &v1alpha1.DatastoreSpec{Postgres: &v1alpha1.PostgresDatastore{
		SecretKeyRef: v1alpha1.SecretKeyReference{Name: secret, Key: key}}}
	return env
}

// updateEnvironment applies mutate to the stored Environment, retrying on conflicts.
func updateEnvironment(t *testing.T, ns, name string, mutate func(*v1alpha1.Environment)) {
	t.Helper()
	eventually(t, "update Environment "+name, func() error {
		env := &v1alpha1.Environment{}
		if err := get(t, ns, name, env); err != nil {
			return err
		}
		mutate(env)
		return k8sClient.Update(context.Background(), env)
	})
}

// waitEnvironmentReady waits for the Environment's Ready condition to have
// this status and reason for its current generation, and returns it. No
// Deployment controller runs here, so a gateway stays Progressing.
func waitEnvironmentReady(t *testing.T, ns, name string, want metav1.ConditionStatus, reason string) (*v1alpha1.Environment, metav1.Condition) {
	t.Helper()
	env := &v1alpha1.Environment{}
	eventually(t, fmt.Sprintf("Environment %s is Ready %s/%s", name, want, reason), func() error {
		if err := get(t, ns, name, env); err != nil {
			return err
		}
		return wantCondition(env, env.Status.Conditions, v1alpha1.ConditionReady, want, reason)
	})
	c, _ := condition(env.Status.Conditions, v1alpha1.ConditionReady)
	return env, c
}

// waitReadyMessage waits for the Environment's Ready message, for its
// current generation, to contain want.
func waitReadyMessage(t *testing.T, ns, name, want string) {
	t.Helper()
	eventually(t, fmt.Sprintf("Environment %s's Ready message says %q", name, want), func() error {
		env := &v1alpha1.Environment{}
		if err := get(t, ns, name, env); err != nil {
			return err
		}
		c, err := condition(env.Status.Conditions, v1alpha1.ConditionReady)
		if err != nil {
			return err
		}
		if c.ObservedGeneration != env.Generation || !strings.Contains(c.Message, want) {
			return fmt.Errorf("Ready message for generation %d: %q", c.ObservedGeneration, c.Message)
		}
		return nil
	})
}

// waitDeployment waits for the gateway Deployment to pass check.
func waitDeployment(t *testing.T, ns, env, what string, check func(*appsv1.Deployment) error) *appsv1.Deployment {
	t.Helper()
	d := &appsv1.Deployment{}
	eventually(t, what, func() error {
		if err := get(t, ns, gatewayName(env), d); err != nil {
			return err
		}
		return check(d)
	})
	return d
}

// mountsDataClaim says how the gateway Deployment uses the Environment's
// claim: nil when it mounts it at DataDir, passes --data-dir and stops the
// old Pod before starting a new one.
func mountsDataClaim(env string) func(*appsv1.Deployment) error {
	return func(d *appsv1.Deployment) error {
		pod := d.Spec.Template.Spec
		c := pod.Containers[0]
		switch {
		case !slices.ContainsFunc(pod.Volumes, func(v corev1.Volume) bool {
			return v.Name == "data" && v.PersistentVolumeClaim != nil && v.PersistentVolumeClaim.ClaimName == dataClaimName(env)
		}):
			return fmt.Errorf("volumes %+v lack the claim %s", pod.Volumes, dataClaimName(env))
		case !slices.ContainsFunc(c.VolumeMounts, func(m corev1.VolumeMount) bool { return m.Name == "data" && m.MountPath == DataDir }):
			return fmt.Errorf("mounts %+v lack %s", c.VolumeMounts, DataDir)
		case !slices.Contains(c.Args, "--data-dir="+DataDir):
			return fmt.Errorf("args %v lack --data-dir", c.Args)
		case d.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType:
			return fmt.Errorf("strategy %+v, want Recreate", d.Spec.Strategy)
		case pod.SecurityContext == nil || pod.SecurityContext.FSGroup == nil || *pod.SecurityContext.FSGroup != gatewayUID:
			return fmt.Errorf("pod security context %+v: the gateway's group cannot write the volume", pod.SecurityContext)
		}
		return nil
	}
}

// mountsNoDataClaim is nil when the Deployment rolls out as usual and
// mounts nothing.
func mountsNoDataClaim(d *appsv1.Deployment) error {
	pod := d.Spec.Template.Spec
	if len(pod.Volumes) != 0 || len(pod.Containers[0].VolumeMounts) != 0 || slices.ContainsFunc(pod.Containers[0].Args, func(a string) bool {
		return strings.HasPrefix(a, "--data-dir")
	}) {
		return fmt.Errorf("volumes %+v, args %v: want no data volume", pod.Volumes, pod.Containers[0].Args)
	}
	if d.Spec.Strategy.Type != appsv1.RollingUpdateDeploymentStrategyType {
		return fmt.Errorf("strategy %+v, want RollingUpdate", d.Spec.Strategy)
	}
	return nil
}

func getClaim(t *testing.T, ns, env string) (*corev1.PersistentVolumeClaim, error) {
	t.Helper()
	claim := &corev1.PersistentVolumeClaim{}
	return claim, get(t, ns, dataClaimName(env), claim)
}

// TestSQLiteDatastoreClaim: an SQLite datastore gets a claim of its own,
// owned by the Environment, which the gateway mounts; the gateway moves
// between Recreate and RollingUpdate as the datastore comes and goes, and
// the claim stays when it goes.
func TestSQLiteDatastoreClaim(t *testing.T) {
	ns := newNamespace(t)
	create(t, newEnvironment(ns, "prod"))
	waitDeployment(t, ns, "prod", "the gateway rolls out without a datastore", mountsNoDataClaim)

	updateEnvironment(t, ns, "prod", func(e *v1alpha1.Environment) {
		e.Spec.Datastore = sqliteEnvironment(ns, "prod", "2Gi", ptr.To("fast")).Spec.Datastore
	})
	var claim *corev1.PersistentVolumeClaim
	eventually(t, "the claim exists", func() (err error) { claim, err = getClaim(t, ns, "prod"); return err })
	env := &v1alpha1.Environment{}
	if err := get(t, ns, "prod", env); err != nil {
		t.Fatal(err)
	}
	if !isOwnedBy(claim, env.UID) {
		t.Errorf("the claim is not controlled by the Environment, so it would outlive it: %+v", claim.OwnerReferences)
	}
	if got := claim.Spec.Resources.Requests[corev1.ResourceStorage]; got.String() != "2Gi" {
		t.Errorf("the claim requests %s, want 2Gi", got.String())
	}
	if c := claim.Spec.StorageClassName; c == nil || *c != "fast" {
		t.Errorf("storage class %v, want fast", c)
	}
	if !slices.Equal(claim.Spec.AccessModes, []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}) {
		t.Errorf("access modes %v, want ReadWriteOnce", claim.Spec.AccessModes)
	}
	if claim.Labels[LabelManagedBy] != ManagedByValue || claim.Labels[LabelEnvironment] != "prod" {
		t.Errorf("labels %v lack the manager's", claim.Labels)
	}
	waitDeployment(t, ns, "prod", "the gateway mounts the claim", mountsDataClaim("prod"))
	eventually(t, "the snapshot names the SQLite datastore", func() error {
		s, err := readSnapshot(ns, "prod")
		if err != nil {
			return err
		}
		if s.Datastore == nil || s.Datastore.Kind != snapshot.DatastoreSQLite || s.Credentials.DatastoreURL != "" {
			return fmt.Errorf("datastore %+v", s.Datastore)
		}
		return nil
	})

	updateEnvironment(t, ns, "prod", func(e *v1alpha1.Environment) { e.Spec.Datastore = nil })
	waitDeployment(t, ns, "prod", "the gateway rolls out without the claim", mountsNoDataClaim)
	if _, err := getClaim(t, ns, "prod"); err != nil {
		t.Fatalf("switching away from sqlite deleted the claim: %v", err)
	}
}

// TestSQLiteDatastoreClaimGrowsAndNeverShrinks: a larger storage grows the
// claim; a smaller one is reported in Ready's message and not applied; a
// growth the API server refuses is reported too.
func TestSQLiteDatastoreClaimGrowsAndNeverShrinks(t *testing.T) {
	ns := newNamespace(t)
	class := "expandable-" + ns
	if err := k8sClient.Create(context.Background(), &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: class},
		Provisioner: "example.com/test", AllowVolumeExpansion: ptr.To(true)}); err != nil {
		t.Fatal(err)
	}
	create(t, sqliteEnvironment(ns, "prod", "1Gi", &class))
	var claim *corev1.PersistentVolumeClaim
	eventually(t, "the claim exists", func() (err error) { claim, err = getClaim(t, ns, "prod"); return err })

	// No volume controller runs here: an unbound claim cannot be resized.
	updateEnvironment(t, ns, "prod", func(e *v1alpha1.Environment) { e.Spec.Datastore.SQLite.Storage = ptr.To(resource.MustParse("2Gi")) })
	waitReadyMessage(t, ns, "prod", "PersistentVolumeClaim "+dataClaimName("prod")+" cannot grow from 1Gi to 2Gi: "+
		`PersistentVolumeClaim "appapi-prod-data" is invalid: spec: Forbidden: spec is immutable after creation except resources.requests`)

	// Bound, as a volume controller would make it: now it grows.
	claim.Status.Phase = corev1.ClaimBound
	if err := k8sClient.Status().Update(context.Background(), claim); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the claim grows to 2Gi", func() error {
		claim, err := getClaim(t, ns, "prod")
		if err != nil {
			return err
		}
		if got := claim.Spec.Resources.Requests[corev1.ResourceStorage]; got.String() != "2Gi" {
			return fmt.Errorf("the claim requests %s", got.String())
		}
		return nil
	})

	updateEnvironment(t, ns, "prod", func(e *v1alpha1.Environment) { e.Spec.Datastore.SQLite.Storage = ptr.To(resource.MustParse("500Mi")) })
	waitReadyMessage(t, ns, "prod", "spec.datastore.sqlite.storage 500Mi is smaller than the 2Gi PersistentVolumeClaim "+
		dataClaimName("prod")+" requests; a claim never shrinks, so it keeps 2Gi")
	if claim, err := getClaim(t, ns, "prod"); err != nil || claim.Spec.Resources.Requests.Storage().String() != "2Gi" {
		t.Fatalf("the claim changed: %v %v", claim.Spec.Resources.Requests, err)
	}
}

// TestSQLiteDatastoreHoldsTheGatewayToOneReplica: more replicas with an
// SQLite datastore are refused (Ready False, Stalled), and the gateway
// keeps its one replica.
func TestSQLiteDatastoreHoldsTheGatewayToOneReplica(t *testing.T) {
	ns := newNamespace(t)
	env := sqliteEnvironment(ns, "prod", "", nil)
	env.Spec.Gateway.Replicas = ptr.To(int32(2))
	create(t, env)
	env, c := waitEnvironmentReady(t, ns, "prod", metav1.ConditionFalse, v1alpha1.ReasonEmbeddedDatastoreSingleReplica)
	for _, want := range []string{"spec.gateway.replicas is 2", "set spec.gateway.replicas to 1", "spec.datastore.postgres"} {
		if !strings.Contains(c.Message, want) {
			t.Errorf("Ready message %q does not say %q", c.Message, want)
		}
	}
	if err := wantCondition(env, env.Status.Conditions, v1alpha1.ConditionStalled, metav1.ConditionTrue, v1alpha1.ReasonEmbeddedDatastoreSingleReplica); err != nil {
		t.Error(err)
	}
	d := waitDeployment(t, ns, "prod", "the gateway has one replica", mountsDataClaim("prod"))
	if *d.Spec.Replicas != 1 {
		t.Errorf("replicas = %d, want 1", *d.Spec.Replicas)
	}
	claim, err := getClaim(t, ns, "prod")
	if err != nil {
		t.Fatal(err)
	}
	if got := claim.Spec.Resources.Requests[corev1.ResourceStorage]; got.String() != "1Gi" {
		t.Errorf("the claim requests %s, want the default 1Gi", got.String())
	}

	updateEnvironment(t, ns, "prod", func(e *v1alpha1.Environment) { e.Spec.Gateway.Replicas = ptr.To(int32(1)) })
	waitEnvironmentReady(t, ns, "prod", metav1.ConditionFalse, v1alpha1.ReasonProgressing)
	if err := get(t, ns, "prod", env); err != nil {
		t.Fatal(err)
	}
	if _, err := condition(env.Status.Conditions, v1alpha1.ConditionStalled); err == nil {
		t.Error("Stalled stays after replicas went to 1")
	}
}

// TestPostgresDatastoreURL: the URL of a PostgreSQL datastore is read like
// spec.secrets (the Secret must consent) and published only in the
// credentials Secret.
func TestPostgresDatastoreURL(t *testing.T) {
	ns := newNamespace(t)
	const url = "postgres://shop:pg-pa55word-0123@db.shop.svc:5432/shop?sslmode=require"
	create(t, postgresEnvironment(ns, "prod", "shop-db", "url"))
	create(t, storeAppAPI(ns, "add-contact", "prod"))

	_, c := waitEnvironmentReady(t, ns, "prod", metav1.ConditionFalse, v1alpha1.ReasonSecretNotFound)
	if want := `spec.datastore.postgres.secretKeyRef: key "url" of Secret "shop-db" does not exist`; !strings.Contains(c.Message, want) {
		t.Errorf("Ready message %q does not say %q", c.Message, want)
	}
	app := waitAppAPI(t, ns, "add-contact", metav1.ConditionFalse, v1alpha1.ReasonNoDatastore, metav1.ConditionFalse, v1alpha1.ReasonNotServed)
	accepted, _ := condition(app.Status.Conditions, v1alpha1.ConditionAccepted)
	if !strings.Contains(accepted.Message, `(key "url" of Secret "shop-db") cannot be used`) {
		t.Errorf("Accepted message %q does not name the Secret", accepted.Message)
	}

	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "shop-db"}, Data: map[string][]byte{"url": []byte(url)}}
	create(t, secret)
	// The controller reads users' Secrets on each reconcile: an edit brings one.
	updateEnvironment(t, ns, "prod", func(e *v1alpha1.Environment) { e.Spec.Variables = map[string]string{"edit": "1"} })
	_, c = waitEnvironmentReady(t, ns, "prod", metav1.ConditionFalse, v1alpha1.ReasonSecretNotAllowed)
	if want := `spec.datastore.postgres.secretKeyRef: Secret "shop-db" lacks the label appapi.dev/environment-secret=true`; !strings.Contains(c.Message, want) {
		t.Errorf("Ready message %q does not say %q", c.Message, want)
	}
	if s, err := readSnapshot(ns, "prod"); err != nil || s.Datastore != nil || s.Credentials.DatastoreURL != "" {
		t.Fatalf("without consent the snapshot has datastore %+v and a URL: %v (%v)", s.Datastore, s.Credentials.DatastoreURL != "", err)
	}

	secret.Labels = map[string]string{v1alpha1.EnvironmentSecretLabel: "true"}
	if err := k8sClient.Update(context.Background(), secret); err != nil {
		t.Fatal(err)
	}
	updateEnvironment(t, ns, "prod", func(e *v1alpha1.Environment) { e.Spec.Variables = map[string]string{"edit": "2"} })
	eventually(t, "the credentials hold the URL", func() error {
		s, err := readSnapshot(ns, "prod")
		if err != nil {
			return err
		}
		if s.Datastore == nil || s.Datastore.Kind != snapshot.DatastorePostgres || s.Credentials.DatastoreURL != url {
			return fmt.Errorf("datastore %+v, URL published: %v", s.Datastore, s.Credentials.DatastoreURL == url)
		}
		return nil
	})
	assertNotOutsideSecrets(t, ns, url, "pg-pa55word-0123")
	waitDeployment(t, ns, "prod", "the gateway mounts no claim", mountsNoDataClaim)
	if _, err := getClaim(t, ns, "prod"); err == nil {
		t.Error("a PostgreSQL datastore got a claim")
	}

	// A value that is not a URL: refused, and quoted nowhere.
	secret.Data["url"] = []byte("host=db.shop.svc user=shop password=pg-pa55word-0123")
	if err := k8sClient.Update(context.Background(), secret); err != nil {
		t.Fatal(err)
	}
	updateEnvironment(t, ns, "prod", func(e *v1alpha1.Environment) { e.Spec.Variables = map[string]string{"edit": "3"} })
	_, c = waitEnvironmentReady(t, ns, "prod", metav1.ConditionFalse, v1alpha1.ReasonDatastoreURLInvalid)
	if want := `key "url" of Secret "shop-db" is not a postgres:// or postgresql:// URL`; !strings.Contains(c.Message, want) {
		t.Errorf("Ready message %q does not say %q", c.Message, want)
	}
	assertNotOutsideSecrets(t, ns, url, "pg-pa55word-0123")
}

// storeAppAPI is an AppAPI that stores its request body.
func storeAppAPI(ns, name, env string) *v1alpha1.AppAPI {
	app := newAppAPI(ns, name, env, "POST", "/"+name, "1")
	app.Spec.Steps = []v1alpha1.Step{
		{Name: "check", Transform: &v1alpha1.TransformOperation{Value: "request.body"}},
		{Name: "save", Store: &v1alpha1.StoreOperation{Collection: "contacts", Operation: v1alpha1.StoreInsert, Value: "steps.check"}},
	}
	app.Spec.Response.Body = "steps.save"
	return app
}

// TestNoDatastore: a store step in an Environment without a datastore is
// refused, naming the step, without Stalled (the fix is elsewhere); giving
// the Environment a datastore accepts the AppAPI without an edit to it.
func TestNoDatastore(t *testing.T) {
	ns := newNamespace(t)
	create(t, newEnvironment(ns, "prod"))
	create(t, storeAppAPI(ns, "add-contact", "prod"))
	create(t, newAppAPI(ns, "hello", "prod", "GET", "/hello", "'hello'"))

	app := waitAppAPI(t, ns, "add-contact", metav1.ConditionFalse, v1alpha1.ReasonNoDatastore, metav1.ConditionFalse, v1alpha1.ReasonNotServed)
	accepted, _ := condition(app.Status.Conditions, v1alpha1.ConditionAccepted)
	if want := `spec.steps[1].store: step "save" is a store step, but environment "prod" has no spec.datastore`; !strings.Contains(accepted.Message, want) {
		t.Errorf("Accepted message %q does not say %q", accepted.Message, want)
	}
	if _, err := condition(app.Status.Conditions, v1alpha1.ConditionStalled); err == nil {
		t.Error("NoDatastore is fixed in the Environment, yet the AppAPI is Stalled")
	}
	wantEvent(t, ns, "add-contact", v1alpha1.ReasonNoDatastore)
	waitServed(t, ns, "prod", "hello", 1)

	updateEnvironment(t, ns, "prod", func(e *v1alpha1.Environment) {
		e.Spec.Datastore = &v1alpha1.DatastoreSpec{SQLite: &v1alpha1.SQLiteDatastore{}}
	})
	waitAppAPI(t, ns, "add-contact", metav1.ConditionTrue, v1alpha1.ReasonAccepted, metav1.ConditionTrue, v1alpha1.ReasonServed)
	waitServed(t, ns, "prod", "add-contact", 1)
}
