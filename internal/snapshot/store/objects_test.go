package store

import (
	"context"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/appapi-dev/appapi/api/v1alpha1"
	"github.com/appapi-dev/appapi/internal/snapshot"
)

// memoryObjects holds objects in maps and logs every call, so that a unit
// test can see what the Reader or Writer asked for and in what order. The
// envtest suites of controllers and test/integration run the store against
// a real API server.
type memoryObjects struct {
	configMaps map[string]*corev1.ConfigMap
	secrets    map[string]*corev1.Secret
	calls      []string
	// fail, when set, is the error of every call.
	fail error
}

func newMemoryObjects() *memoryObjects {
	return &memoryObjects{configMaps: map[string]*corev1.ConfigMap{}, secrets: map[string]*corev1.Secret{}}
}

func (m *memoryObjects) GetConfigMap(_ context.Context, name string) (*corev1.ConfigMap, error) {
	return get(m, m.configMaps, "configmaps", name)
}

func (m *memoryObjects) GetSecret(_ context.Context, name string) (*corev1.Secret, error) {
	return get(m, m.secrets, "secrets", name)
}

// get returns a copy, as a client does, so that a caller's changes stay its own.
func get[T interface{ DeepCopy() T }](m *memoryObjects, objects map[string]T, resource, name string) (T, error) {
	m.calls = append(m.calls, "get "+name)
	var none T
	if m.fail != nil {
		return none, m.fail
	}
	obj, ok := objects[name]
	if !ok {
		return none, apierrors.NewNotFound(corev1.Resource(resource), name)
	}
	return obj.DeepCopy(), nil
}

func (m *memoryObjects) ApplyConfigMap(_ context.Context, cm *corev1ac.ConfigMapApplyConfiguration) error {
	m.calls = append(m.calls, "apply "+*cm.Name)
	m.configMaps[*cm.Name] = &corev1.ConfigMap{ObjectMeta: objectMeta(cm.ObjectMetaApplyConfiguration), Data: cm.Data, BinaryData: cm.BinaryData}
	return nil
}

func (m *memoryObjects) ApplySecret(_ context.Context, s *corev1ac.SecretApplyConfiguration) error {
	m.calls = append(m.calls, "apply "+*s.Name)
	m.secrets[*s.Name] = &corev1.Secret{ObjectMeta: objectMeta(s.ObjectMetaApplyConfiguration), Type: *s.Type, Data: s.Data}
	return nil
}

func (m *memoryObjects) DeleteConfigMap(_ context.Context, name string) error {
	m.calls = append(m.calls, "delete "+name)
	delete(m.configMaps, name)
	return nil
}

func objectMeta(ac *metav1ac.ObjectMetaApplyConfiguration) metav1.ObjectMeta {
	meta := metav1.ObjectMeta{Name: *ac.Name, Namespace: *ac.Namespace, Labels: ac.Labels}
	for _, ref := range ac.OwnerReferences {
		meta.OwnerReferences = append(meta.OwnerReferences, metav1.OwnerReference{APIVersion: *ref.APIVersion, Kind: *ref.Kind,
			Name: *ref.Name, UID: *ref.UID, Controller: ref.Controller, BlockOwnerDeletion: ref.BlockOwnerDeletion})
	}
	return meta
}

func testWriter(objects Objects) *Writer {
	return &Writer{Objects: objects, Namespace: "shop", Environment: "prod",
		Owner: metav1ac.OwnerReference().WithAPIVersion("appapi.dev/v1alpha1").WithKind("Environment").
			WithName("prod").WithUID(types.UID("env-uid")).WithController(true).WithBlockOwnerDeletion(true),
		ConfigMapLabels: map[string]string{"component": "snapshot"},
		SecretLabels:    map[string]string{"component": "credentials"},
	}
}

func testSnapshot() *snapshot.Snapshot {
	return &snapshot.Snapshot{
		Header: snapshot.Header{Version: snapshot.Version, Namespace: "shop", Environment: "prod", Generation: 1, Settings: snapshot.Settings{MaxRequestBytes: 1 << 20, RequestTimeout: snapshot.Duration(30 * time.Second)}, Variables: map[string]string{"region": "eu"}},
		Routes: []snapshot.Route{
			{Name: "hello", Generation: 1, Method: "GET", Path: "/hello",
				Authentication: v1alpha1.Authentication{Mode: v1alpha1.AuthenticationToken}},
			{Name: "orders", Generation: 2, Method: "POST", Path: "/orders",
				Authentication: v1alpha1.Authentication{Mode: v1alpha1.AuthenticationNone}},
		},
		Credentials: snapshot.Credentials{
			Tokens:  []snapshot.Token{{Name: "ci", ID: "abc", Hash: snapshot.HashToken("t1")}},
			Secrets: map[string]string{"apiKey": "s3cret-value"},
		},
	}
}

// stale is the controller reference of another owner.
var stale = []metav1.OwnerReference{{APIVersion: "appapi.dev/v1alpha1", Kind: "Environment", Name: "prod", UID: "old-uid", Controller: ptr.To(true)}}
