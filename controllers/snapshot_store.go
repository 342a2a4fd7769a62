package controllers

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/appapi-dev/appapi/api/v1alpha1"
	"github.com/appapi-dev/appapi/internal/snapshot/store"
)

// snapshotWriter publishes env's snapshots: its objects carry the
// Environment's labels and controller reference, as its gateway objects do.
func snapshotWriter(c client.Client, env *v1alpha1.Environment) *store.Writer {
	return &store.Writer{
		Objects:   clientObjects{client: c, namespace: env.Namespace},
		Namespace: env.Namespace, Environment: env.Name,
		Owner:           ownerReference(env),
		ConfigMapLabels: environmentLabels(env.Name, ComponentSnapshot),
		SecretLabels:    environmentLabels(env.Name, ComponentCredentials),
	}
}

// snapshotReader reads what the Environment namespace/environment published.
func snapshotReader(c client.Client, namespace, environment string) *store.Reader {
	return store.NewReader(clientObjects{client: c, namespace: namespace}, environment)
}

// clientObjects are the snapshot objects of one namespace through a
// controller-runtime client: the manager's, which reads its own ConfigMaps
// and Secrets from its cache, or the tests', which read the API server.
type clientObjects struct {
	client    client.Client
	namespace string
}

func (o clientObjects) GetConfigMap(ctx context.Context, name string) (*corev1.ConfigMap, error) {
	cm := &corev1.ConfigMap{}
	return cm, o.client.Get(ctx, types.NamespacedName{Namespace: o.namespace, Name: name}, cm)
}

func (o clientObjects) GetSecret(ctx context.Context, name string) (*corev1.Secret, error) {
	secret := &corev1.Secret{}
	return secret, o.client.Get(ctx, types.NamespacedName{Namespace: o.namespace, Name: name}, secret)
}

// ApplyConfigMap applies server-side as the controllers' field owner, and
// takes over fields someone else set, as the gateway objects do.
func (o clientObjects) ApplyConfigMap(ctx context.Context, cm *corev1ac.ConfigMapApplyConfiguration) error {
	return o.client.Apply(ctx, cm, client.FieldOwner(FieldOwner), client.ForceOwnership)
}

func (o clientObjects) ApplySecret(ctx context.Context, secret *corev1ac.SecretApplyConfiguration) error {
	return o.client.Apply(ctx, secret, client.FieldOwner(FieldOwner), client.ForceOwnership)
}

func (o clientObjects) DeleteConfigMap(ctx context.Context, name string) error {
	return o.client.Delete(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: o.namespace, Name: name}})
}
