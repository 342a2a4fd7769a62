package cluster

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"github.com/appapi-dev/appapi/internal/snapshot"
)

// watchedObjects are the snapshot objects as the gateway's Role lets it
// read them: the index and the credentials from the informers that watch
// them by name, and each shard with a GET by name.
type watchedObjects struct {
	client      kubernetes.Interface
	namespace   string
	environment string
	// index and credentials are the stores of the informers.
	index, credentials cache.Store
}

func (o *watchedObjects) GetConfigMap(ctx context.Context, name string) (*corev1.ConfigMap, error) {
	if name == snapshot.IndexName(o.environment) {
		return watched[*corev1.ConfigMap](o.index, "configmaps", o.namespace, name)
	}
	return o.client.CoreV1().ConfigMaps(o.namespace).Get(ctx, name, metav1.GetOptions{})
}

// GetSecret reads the credentials, the one Secret the gateway may read.
func (o *watchedObjects) GetSecret(_ context.Context, name string) (*corev1.Secret, error) {
	return watched[*corev1.Secret](o.credentials, "secrets", o.namespace, name)
}

// watched returns the object of that name in an informer's store, or a
// NotFound error as the API server would.
func watched[T any](store cache.Store, resource, namespace, name string) (T, error) {
	var zero T
	item, exists, err := store.GetByKey(namespace + "/" + name)
	if err != nil {
		return zero, err
	}
	obj, ok := item.(T)
	if !exists || !ok {
		return zero, apierrors.NewNotFound(corev1.Resource(resource), name)
	}
	return obj, nil
}
