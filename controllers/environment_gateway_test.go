package controllers

import (
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/appapi-dev/appapi/api/v1alpha1"
)

// gatewayContainer is the container desiredDeployment asks for.
func gatewayContainer(t *testing.T, env *v1alpha1.Environment) (args []string, limits, requests corev1.ResourceList) {
	t.Helper()
	c := desiredDeployment(env, "gateway:test").Spec.Template.Spec.Containers[0]
	if c.Resources == nil {
		t.Fatal("the gateway container has no resources")
	}
	var l, r corev1.ResourceList
	if c.Resources.Limits != nil {
		l = *c.Resources.Limits
	}
	if c.Resources.Requests != nil {
		r = *c.Resources.Requests
	}
	return c.Args, l, r
}

// TestGatewayMemoryLimit: without spec.gateway.resources the gateway gets
// a 512Mi memory limit, and whenever its container has a memory limit it
// is told to keep within 80% of it.
func TestGatewayMemoryLimit(t *testing.T) {
	env := &v1alpha1.Environment{ObjectMeta: metav1.ObjectMeta{Name: "prod", Namespace: "shop"}}
	args, limits, requests := gatewayContainer(t, env)
	if got := limits[corev1.ResourceMemory]; got.String() != "512Mi" {
		t.Errorf("default memory limit %s, want 512Mi", got.String())
	}
	if got := requests[corev1.ResourceMemory]; got.String() != "64Mi" {
		t.Errorf("default memory request %s, want 64Mi", got.String())
	}
	if want := "--memory-limit=429496729"; !slices.Contains(args, want) { // 80% of 512Mi
		t.Errorf("args %v lack %s", args, want)
	}

	env.Spec.Gateway.Resources = &corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("2Gi")}}
	args, limits, _ = gatewayContainer(t, env)
	if got := limits[corev1.ResourceMemory]; got.String() != "2Gi" {
		t.Errorf("memory limit %s, want the Environment's 2Gi", got.String())
	}
	if want := "--memory-limit=1717986918"; !slices.Contains(args, want) {
		t.Errorf("args %v lack %s", args, want)
	}

	// Resources without a memory limit are the user's choice: no budget.
	env.Spec.Gateway.Resources = &corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")}}
	args, limits, _ = gatewayContainer(t, env)
	if _, ok := limits[corev1.ResourceMemory]; ok {
		t.Errorf("limits %v, want none the Environment did not set", limits)
	}
	if slices.ContainsFunc(args, func(a string) bool { return strings.HasPrefix(a, "--memory-limit") }) {
		t.Errorf("args %v have a --memory-limit without a container limit", args)
	}
}

// TestGatewayReadinessIgnoresTheDatastore: the readiness probe leaves out
// the datastore's check, so an unreachable PostgreSQL does not take the
// gateway out of its Service (every AppAPI that stores nothing keeps
// working); monitoring reads the full /readyz.
func TestGatewayReadinessIgnoresTheDatastore(t *testing.T) {
	env := &v1alpha1.Environment{ObjectMeta: metav1.ObjectMeta{Name: "prod", Namespace: "shop"}}
	env.Spec.Datastore = &v1alpha1.DatastoreSpec{Postgres: &v1alpha1.PostgresDatastore{SecretKeyRef: v1alpha1.SecretKeyReference{Name: "db", Key: "url"}}}
	env.Spec.Gateway.Replicas = new(int32(3))
	d := desiredDeployment(env, "gateway:test")
	c := d.Spec.Template.Spec.Containers[0]
	if got := *c.ReadinessProbe.HTTPGet.Path; got != "/readyz?exclude=datastore" {
		t.Errorf("readiness probe path %q, want /readyz?exclude=datastore", got)
	}
	if *d.Spec.Replicas != 3 {
		t.Errorf("replicas = %d: PostgreSQL serves any number of replicas", *d.Spec.Replicas)
	}
}
