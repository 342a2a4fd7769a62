package controllers

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/appapi-dev/appapi/api/v1alpha1"
	"github.com/appapi-dev/appapi/internal/snapshot"
	"github.com/appapi-dev/appapi/internal/token"
)

func TestEnvironmentCreatesItsGateway(t *testing.T) {
	ns := newNamespace(t)
	env := newEnvironment(ns, "prod")
	env.Spec.Variables = map[string]string{"region": "eu"}
	create(t, env)
	name := gatewayName("prod")

	deploy := &appsv1.Deployment{}
	eventually(t, "the gateway Deployment exists", func() error { return get(t, ns, name, deploy) })
	if !isOwnedBy(deploy, env.UID) {
		t.Errorf("Deployment is not owned by the Environment: %v", deploy.OwnerReferences)
	}
	if _, ok := deploy.Spec.Template.Labels["app.kubernetes.io/instance"]; ok || deploy.Labels["app.kubernetes.io/instance"] != "" {
		t.Error("the gateway carries app.kubernetes.io/instance, which Argo CD's label tracking would claim")
	}
	if *deploy.Spec.Replicas != 1 {
		t.Errorf("replicas = %d, want the default 1", *deploy.Spec.Replicas)
	}
	pod := deploy.Spec.Template.Spec
	c := pod.Containers[0]
	if c.Image != testGatewayImage {
		t.Errorf("image = %q, want the manager's --gateway-image %q", c.Image, testGatewayImage)
	}
	for _, arg := range []string{"--namespace=" + ns, "--environment=prod", "--drain-timeout=32s"} {
		if !slices.Contains(c.Args, arg) {
			t.Errorf("args %v lack %s", c.Args, arg)
		}
	}
	sc := c.SecurityContext
	if sc == nil || !*sc.RunAsNonRoot || !*sc.ReadOnlyRootFilesystem || *sc.AllowPrivilegeEscalation {
		t.Errorf("container security context %+v is not non-root with a read-only root filesystem", sc)
	}
	if c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet.Port.StrVal != "admin" || c.LivenessProbe == nil {
		t.Errorf("probes must be on the admin port: readiness %+v liveness %+v", c.ReadinessProbe, c.LivenessProbe)
	}
	if g := pod.TerminationGracePeriodSeconds; g == nil || *g != 35 {
		t.Errorf("termination grace period %v, want the drain timeout and a little more", g)
	}
	if pod.ServiceAccountName != name {
		t.Errorf("service account = %q, want %q", pod.ServiceAccountName, name)
	}

	svc := &corev1.Service{}
	eventually(t, "the Service exists", func() error { return get(t, ns, name, svc) })
	if p := svc.Spec.Ports[0]; p.Port != 80 || p.TargetPort.StrVal != "http" {
		t.Errorf("service port %d -> %v, want 80 -> http (8080)", p.Port, p.TargetPort)
	}
	eventually(t, "the ServiceAccount exists", func() error { return get(t, ns, name, &corev1.ServiceAccount{}) })
	role := &rbacv1.Role{}
	eventually(t, "the Role exists", func() error { return get(t, ns, name, role) })
	for _, rule := range role.Rules {
		if slices.ContainsFunc(rule.APIGroups, func(g string) bool { return g == v1alpha1.GroupVersion.Group }) {
			t.Errorf("the gateway's Role grants access to the custom resources: %+v", rule)
		}
		if len(rule.ResourceNames) == 0 || slices.ContainsFunc(rule.Verbs, func(v string) bool { return v != "get" && v != "list" && v != "watch" }) {
			t.Errorf("rule %+v is not read-only on named objects", rule)
		}
		if slices.Contains(rule.Resources, "secrets") && !slices.Equal(rule.ResourceNames, []string{snapshot.CredentialsName("prod")}) {
			t.Errorf("the gateway may read Secrets %v, want only its credentials", rule.ResourceNames)
		}
	}
	binding := &rbacv1.RoleBinding{}
	eventually(t, "the RoleBinding exists", func() error { return get(t, ns, name, binding) })
	if binding.RoleRef.Name != name || binding.Subjects[0].Name != name {
		t.Errorf("RoleBinding binds %v to %s", binding.Subjects, binding.RoleRef.Name)
	}

	key := &corev1.Secret{}
	eventually(t, "the signing key exists", func() error { return get(t, ns, signingKeyName("prod"), key) })
	if _, err := token.ParseSigningKey(key.Data); err != nil {
		t.Errorf("signing key: %v", err)
	}
	var snap *snapshot.Snapshot
	eventually(t, "the snapshot is published", func() (err error) { snap, err = readSnapshot(ns, "prod"); return err })
	if snap.Variables["region"] != "eu" || snap.Settings.MaxRequestBytes != v1alpha1.DefaultMaxRequestBytes {
		t.Errorf("snapshot = %+v, want the Environment's variables and default limits", snap)
	}

	// No Deployment controller runs here: the rollout is pending until we say otherwise.
	eventually(t, "Ready is False until the gateway is rolled out", func() error {
		if err := get(t, ns, "prod", env); err != nil {
			return err
		}
		return wantCondition(env, env.Status.Conditions, v1alpha1.ConditionReady, metav1.ConditionFalse, v1alpha1.ReasonProgressing)
	})
	if s, err := kstatus(env); err != nil || s != status.InProgressStatus {
		t.Errorf("kstatus = %s, %v; want InProgress while the gateway is not available", s, err)
	}
	if env.Status.URL != fmt.Sprintf("http://%s.%s.svc", name, ns) {
		t.Errorf("status.url = %q", env.Status.URL)
	}
	markDeploymentAvailable(t, ns, name)
	eventually(t, "Ready is True and kstatus Current once the gateway is available", func() error {
		if err := get(t, ns, "prod", env); err != nil {
			return err
		}
		if err := wantCondition(env, env.Status.Conditions, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonGatewayAvailable); err != nil {
			return err
		}
		if s, err := kstatus(env); err != nil || s != status.CurrentStatus {
			return fmt.Errorf("kstatus = %s, %v", s, err)
		}
		return nil
	})
}

// markDeploymentAvailable does what the Deployment controller and a kubelet
// would do once the gateway Pods answer their readiness probe.
func markDeploymentAvailable(t *testing.T, ns, name string) {
	t.Helper()
	eventually(t, "mark the Deployment available", func() error {
		d := &appsv1.Deployment{}
		if err := get(t, ns, name, d); err != nil {
			return err
		}
		d.Status = appsv1.DeploymentStatus{
			ObservedGeneration: d.Generation, Replicas: *d.Spec.Replicas, ReadyReplicas: *d.Spec.Replicas,
			AvailableReplicas: *d.Spec.Replicas, UpdatedReplicas: *d.Spec.Replicas,
			Conditions: []appsv1.DeploymentCondition{{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionTrue,
				Reason: "MinimumReplicasAvailable", LastUpdateTime: metav1.Now(), LastTransitionTime: metav1.Now()}},
		}
		return k8sClient.Status().Update(context.Background(), d)
	})
}

func TestEnvironmentRevertsDrift(t *testing.T) {
	ns := newNamespace(t)
	create(t, newEnvironment(ns, "prod"))
	name := gatewayName("prod")
	ctx := context.Background()

	deploy := &appsv1.Deployment{}
	eventually(t, "the Deployment exists", func() error { return get(t, ns, name, deploy) })
	deploy.Spec.Template.Spec.Containers[0].Image = "evil.example/gateway:latest"
	deploy.Spec.Template.Spec.Containers[0].Args = []string{"--environment=other"}
	if err := k8sClient.Update(ctx, deploy); err != nil {
		t.Fatal(err)
	}
	took := eventually(t, "the edited Deployment is reverted", func() error {
		if err := get(t, ns, name, deploy); err != nil {
			return err
		}
		c := deploy.Spec.Template.Spec.Containers[0]
		if c.Image != testGatewayImage || !slices.Contains(c.Args, "--environment=prod") || slices.Contains(c.Args, "--environment=other") {
			return fmt.Errorf("image %s args %v", c.Image, c.Args)
		}
		return nil
	})
	t.Logf("Deployment edit reverted in %s", took)

	svc := &corev1.Service{}
	eventually(t, "the Service exists", func() error { return get(t, ns, name, svc) })
	if err := k8sClient.Delete(ctx, svc); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the deleted Service comes back", func() error {
		fresh := &corev1.Service{}
		if err := get(t, ns, name, fresh); err != nil {
			return err
		}
		if fresh.UID == svc.UID {
			return fmt.Errorf("still the old Service")
		}
		return nil
	})

	index := &corev1.ConfigMap{}
	eventually(t, "the snapshot index exists", func() error { return get(t, ns, snapshot.IndexName("prod"), index) })
	original := index.Data[snapshot.IndexKey]
	index.Data[snapshot.IndexKey] = `{"version":"tampered"}`
	if err := k8sClient.Update(ctx, index); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the edited snapshot index is restored", func() error {
		if err := get(t, ns, snapshot.IndexName("prod"), index); err != nil {
			return err
		}
		if index.Data[snapshot.IndexKey] != original {
			return fmt.Errorf("index holds %s", index.Data[snapshot.IndexKey])
		}
		return nil
	})
}

func TestEnvironmentDeletionRemovesWhatItOwns(t *testing.T) {
	ns := newNamespace(t)
	env := newEnvironment(ns, "gone")
	create(t, env)
	create(t, newAppAPI(ns, "hello", "gone", "GET", "/hello", "'hi'"))
	name := gatewayName("gone")
	eventually(t, "the snapshot is published", func() error { _, err := readSnapshot(ns, "gone"); return err })

	if err := k8sClient.Delete(context.Background(), env); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the Environment and everything it owned are gone", func() error {
		owned := map[string]struct {
			name string
			obj  client.Object
		}{
			"Environment":          {"gone", &v1alpha1.Environment{}},
			"Deployment":           {name, &appsv1.Deployment{}},
			"Service":              {name, &corev1.Service{}},
			"ServiceAccount":       {name, &corev1.ServiceAccount{}},
			"Role":                 {name, &rbacv1.Role{}},
			"RoleBinding":          {name, &rbacv1.RoleBinding{}},
			"signing key":          {signingKeyName("gone"), &corev1.Secret{}},
			"credentials":          {snapshot.CredentialsName("gone"), &corev1.Secret{}},
			"snapshot index":       {snapshot.IndexName("gone"), &corev1.ConfigMap{}},
			"first snapshot shard": {snapshot.ShardName("gone", 0), &corev1.ConfigMap{}},
		}
		var left []string
		for what, o := range owned {
			if err := get(t, ns, o.name, o.obj); !apierrors.IsNotFound(err) {
				left = append(left, what)
			}
		}
		if len(left) > 0 {
			return fmt.Errorf("still there: %s", strings.Join(left, ", "))
		}
		return nil
	})
	app := &v1alpha1.AppAPI{}
	eventually(t, "the AppAPI says its Environment is gone", func() error {
		if err := get(t, ns, "hello", app); err != nil {
			return err
		}
		return wantCondition(app, app.Status.Conditions, v1alpha1.ConditionAccepted, metav1.ConditionFalse, v1alpha1.ReasonEnvironmentNotFound)
	})
}
