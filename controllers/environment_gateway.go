package controllers

import (
	"fmt"
	"strconv"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/intstr"
	appsv1ac "k8s.io/client-go/applyconfigurations/apps/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"
	rbacv1ac "k8s.io/client-go/applyconfigurations/rbac/v1"

	"github.com/appapi-dev/appapi/api/v1alpha1"
	"github.com/appapi-dev/appapi/internal/snapshot"
)

// Ports of the gateway container.
const (
	GatewayHTTPPort  = 8080
	GatewayAdminPort = 9901
	// gatewayUID is distroless's nonroot user.
	gatewayUID = 65532
)

// The desired gateway objects of an Environment, as server-side apply
// configurations: applying them creates what is missing and reverts any
// field someone changed by hand, and an unchanged apply writes nothing.

func ownerReference(env *v1alpha1.Environment) *metav1ac.OwnerReferenceApplyConfiguration {
	return metav1ac.OwnerReference().
		WithAPIVersion(v1alpha1.GroupVersion.String()).WithKind("Environment").
		WithName(env.Name).WithUID(env.UID).
		WithController(true).WithBlockOwnerDeletion(true)
}

func desiredServiceAccount(env *v1alpha1.Environment) *corev1ac.ServiceAccountApplyConfiguration {
	return corev1ac.ServiceAccount(gatewayName(env.Name), env.Namespace).
		WithLabels(gatewayLabels(env.Name)).
		WithOwnerReferences(ownerReference(env))
}

// desiredRole lets the gateway read its own snapshot objects and nothing
// else: not the custom resources, not other Secrets. Fixed object names make
// that possible, since RBAC can only narrow by name.
func desiredRole(env *v1alpha1.Environment) *rbacv1ac.RoleApplyConfiguration {
	configMaps := []string{snapshot.IndexName(env.Name)}
	for i := range snapshot.MaxShards {
		configMaps = append(configMaps, snapshot.ShardName(env.Name, i))
	}
	return rbacv1ac.Role(gatewayName(env.Name), env.Namespace).
		WithLabels(gatewayLabels(env.Name)).
		WithOwnerReferences(ownerReference(env)).
		WithRules(
			rbacv1ac.PolicyRule().WithAPIGroups("").WithResources("configmaps").
				WithVerbs("get", "list", "watch").WithResourceNames(configMaps...),
			rbacv1ac.PolicyRule().WithAPIGroups("").WithResources("secrets").
				WithVerbs("get", "list", "watch").WithResourceNames(snapshot.CredentialsName(env.Name)),
		)
}

func desiredRoleBinding(env *v1alpha1.Environment) *rbacv1ac.RoleBindingApplyConfiguration {
	name := gatewayName(env.Name)
	return rbacv1ac.RoleBinding(name, env.Namespace).
		WithLabels(gatewayLabels(env.Name)).
		WithOwnerReferences(ownerReference(env)).
		WithRoleRef(rbacv1ac.RoleRef().WithAPIGroup("rbac.authorization.k8s.io").WithKind("Role").WithName(name)).
		WithSubjects(rbacv1ac.Subject().WithKind("ServiceAccount").WithName(name).WithNamespace(env.Namespace))
}

func desiredService(env *v1alpha1.Environment) *corev1ac.ServiceApplyConfiguration {
	return corev1ac.Service(gatewayName(env.Name), env.Namespace).
		WithLabels(gatewayLabels(env.Name)).
		WithOwnerReferences(ownerReference(env)).
		WithSpec(corev1ac.ServiceSpec().
			WithType(corev1.ServiceTypeClusterIP).
			WithSelector(gatewaySelector(env.Name)).
			WithPorts(corev1ac.ServicePort().WithName("http").WithProtocol(corev1.ProtocolTCP).
				WithPort(80).WithTargetPort(intstr.FromString("http"))))
}

// gatewayURL is the in-cluster URL of the gateway Service.
func gatewayURL(env *v1alpha1.Environment) string {
	return fmt.Sprintf("http://%s.%s.svc", gatewayName(env.Name), env.Namespace)
}

func desiredDeployment(env *v1alpha1.Environment, defaultImage string) *appsv1ac.DeploymentApplyConfiguration {
	image := env.Spec.Gateway.Image
	if image == "" {
		image = defaultImage
	}
	resources := gatewayResources(env.Spec.Gateway.Resources)
	args := []string{"--namespace=" + env.Namespace, "--environment=" + env.Name,
		"--listen=:" + strconv.Itoa(GatewayHTTPPort), "--admin-listen=:" + strconv.Itoa(GatewayAdminPort),
		// In-flight requests may take the whole requestTimeout to finish.
		"--drain-timeout=" + drainTimeout(env).String()}
	if limit := resources.Limits.Memory(); !limit.IsZero() {
		args = append(args, "--memory-limit="+strconv.FormatInt(gatewayMemoryBudget(limit.Value()), 10))
	}
	sqlite := sqliteDatastore(env) != nil
	if sqlite {
		args = append(args, "--data-dir="+DataDir)
	}
	probe := func(path string) *corev1ac.ProbeApplyConfiguration {
		return corev1ac.Probe().WithHTTPGet(corev1ac.HTTPGetAction().WithPath(path).WithPort(intstr.FromString("admin"))).
			WithPeriodSeconds(10).WithTimeoutSeconds(2)
	}
	container := corev1ac.Container().
		WithName("gateway").
		WithImage(image).
		WithArgs(args...).
		WithPorts(
			corev1ac.ContainerPort().WithName("http").WithContainerPort(GatewayHTTPPort).WithProtocol(corev1.ProtocolTCP),
			corev1ac.ContainerPort().WithName("admin").WithContainerPort(GatewayAdminPort).WithProtocol(corev1.ProtocolTCP)).
		// Not the datastore's check: an unreachable PostgreSQL fails only
		// the store steps (503 with Retry-After), and taking the Pod out of
		// the Service would also stop every AppAPI that stores nothing.
		// Monitoring reads the full /readyz; see docs/operations.md.
		WithReadinessProbe(probe("/readyz?exclude=datastore")).
		WithLivenessProbe(probe("/healthz").WithFailureThreshold(3)).
		WithResources(resourcesApplyConfiguration(resources)).
		WithSecurityContext(corev1ac.SecurityContext().
			WithRunAsNonRoot(true).WithRunAsUser(gatewayUID).
			WithReadOnlyRootFilesystem(true).
			WithAllowPrivilegeEscalation(false).
			WithCapabilities(corev1ac.Capabilities().WithDrop("ALL")).
			WithSeccompProfile(corev1ac.SeccompProfile().WithType(corev1.SeccompProfileTypeRuntimeDefault)))

	podSecurity := corev1ac.PodSecurityContext().WithRunAsNonRoot(true)
	pod := corev1ac.PodSpec().
		WithServiceAccountName(gatewayName(env.Name)).
		// In-flight requests drain on SIGTERM; give them the
		// longest pipeline the Environment allows, and more.
		WithTerminationGracePeriodSeconds(terminationGraceSeconds(env))
	// maxSurge and maxUnavailable are the API server's defaults, written
	// out so that they are this field manager's: a later switch to
	// Recreate, which forbids them, then removes them.
	strategy := appsv1ac.DeploymentStrategy().WithType(appsv1.RollingUpdateDeploymentStrategyType).
		WithRollingUpdate(appsv1ac.RollingUpdateDeployment().
			WithMaxSurge(intstr.FromString("25%")).WithMaxUnavailable(intstr.FromString("25%")))
	if sqlite {
		container.WithVolumeMounts(corev1ac.VolumeMount().WithName("data").WithMountPath(DataDir))
		pod.WithVolumes(corev1ac.Volume().WithName("data").
			WithPersistentVolumeClaim(corev1ac.PersistentVolumeClaimVolumeSource().WithClaimName(dataClaimName(env.Name))))
		// A new volume belongs to root; the gateway's group may write it.
		podSecurity.WithFSGroup(gatewayUID).WithFSGroupChangePolicy(corev1.FSGroupChangeOnRootMismatch)
		// The old Pod stops before the new one starts: two processes
		// must never open the SQLite file at once.
		strategy = appsv1ac.DeploymentStrategy().WithType(appsv1.RecreateDeploymentStrategyType)
	}

	return appsv1ac.Deployment(gatewayName(env.Name), env.Namespace).
		WithLabels(gatewayLabels(env.Name)).
		WithOwnerReferences(ownerReference(env)).
		WithSpec(appsv1ac.DeploymentSpec().
			WithReplicas(gatewayReplicas(env)).
			WithStrategy(strategy).
			WithSelector(metav1ac.LabelSelector().WithMatchLabels(gatewaySelector(env.Name))).
			WithTemplate(corev1ac.PodTemplateSpec().
				WithLabels(gatewayLabels(env.Name)).
				WithSpec(pod.WithSecurityContext(podSecurity).WithContainers(container))))
}

// gatewayResources are the user's, or small requests that let the
// scheduler place the gateway sensibly and a memory limit that keeps a
// gateway under attack from taking its node's memory: the gateway derives
// its --memory-limit from it, and refuses request bodies beyond that
// rather than being killed.
func gatewayResources(r *corev1.ResourceRequirements) corev1.ResourceRequirements {
	if r == nil {
		return corev1.ResourceRequirements{
			Requests: corev1.ResourceList{
				corev1.ResourceCPU:    resource.MustParse("50m"),
				corev1.ResourceMemory: resource.MustParse("64Mi"),
			},
			Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("512Mi")},
		}
	}
	return *r
}

// gatewayMemoryBudget is the gateway's --memory-limit for a container
// memory limit: 80% of it, leaving the rest for what the budget does not
// count (goroutine stacks, requests without bodies, the runtime itself).
func gatewayMemoryBudget(containerLimit int64) int64 {
	return containerLimit * 4 / 5
}

func resourcesApplyConfiguration(r corev1.ResourceRequirements) *corev1ac.ResourceRequirementsApplyConfiguration {
	out := corev1ac.ResourceRequirements()
	if r.Requests != nil {
		out.WithRequests(r.Requests)
	}
	if r.Limits != nil {
		out.WithLimits(r.Limits)
	}
	return out
}

// drainTimeout is how long the gateway lets requests finish after SIGTERM:
// the longest a request may take, and a little more.
func drainTimeout(env *v1alpha1.Environment) time.Duration {
	timeout, err := env.Spec.RequestTimeout.Parse(v1alpha1.DefaultRequestTimeout)
	if err != nil {
		timeout = v1alpha1.DefaultRequestTimeout
	}
	return timeout + 2*time.Second
}

// terminationGraceSeconds gives the gateway time to drain before the
// kubelet kills it.
func terminationGraceSeconds(env *v1alpha1.Environment) int64 {
	return int64(drainTimeout(env).Seconds()) + 3
}
