package store

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"

	"github.com/appapi-dev/appapi/internal/snapshot"
)

// Writer publishes one Environment's encoded snapshots. It decides what the
// objects hold (names, data, labels, owner), and writes an object only when
// it differs from that, which also reverts anyone's edits to its data.
type Writer struct {
	Objects     Objects
	Namespace   string
	Environment string
	// Owner is every object's controller reference. An object controlled by
	// anything else is rewritten.
	Owner *metav1ac.OwnerReferenceApplyConfiguration
	// ConfigMapLabels label the index and the shards, SecretLabels the
	// credentials Secret.
	ConfigMapLabels, SecretLabels map[string]string
}

// Write makes the objects hold enc. The shards go first, then the
// credentials with the digest of the new index, and the index last, so that
// a reader never finds an index whose shards are not written yet. Between
// the last two writes a reader finds an index the credentials do not name,
// and keeps its last snapshot until the index arrives. Shards beyond enc's
// count, left by an older, larger snapshot, are deleted after the index no
// longer names them.
func (w *Writer) Write(ctx context.Context, enc *snapshot.Encoded) error {
	for i, data := range enc.Shards {
		if err := w.writeConfigMap(ctx, snapshot.ShardName(w.Environment, i), nil, map[string][]byte{snapshot.ShardKey: data}); err != nil {
			return err
		}
	}
	if err := w.writeCredentials(ctx, enc); err != nil {
		return err
	}
	if err := w.writeConfigMap(ctx, snapshot.IndexName(w.Environment), map[string]string{snapshot.IndexKey: string(enc.Index)}, nil); err != nil {
		return err
	}
	for i := len(enc.Shards); i < snapshot.MaxShards; i++ {
		if err := w.deleteConfigMap(ctx, snapshot.ShardName(w.Environment, i)); err != nil {
			return err
		}
	}
	return nil
}

func (w *Writer) writeConfigMap(ctx context.Context, name string, data map[string]string, binary map[string][]byte) error {
	current, err := w.Objects.GetConfigMap(ctx, name)
	if err == nil && maps.Equal(current.Data, data) && maps.EqualFunc(current.BinaryData, binary, bytes.Equal) && w.owns(current) {
		return nil
	}
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("read ConfigMap %s: %w", name, err)
	}
	cm := corev1ac.ConfigMap(name, w.Namespace).WithLabels(w.ConfigMapLabels).WithOwnerReferences(w.Owner)
	if data != nil {
		cm.WithData(data)
	}
	if binary != nil {
		cm.WithBinaryData(binary)
	}
	if err := w.Objects.ApplyConfigMap(ctx, cm); err != nil {
		return fmt.Errorf("apply ConfigMap %s: %w", name, err)
	}
	return nil
}

// writeCredentials writes the credentials with the digest and generation of
// the index they are published with.
func (w *Writer) writeCredentials(ctx context.Context, enc *snapshot.Encoded) error {
	name := snapshot.CredentialsName(w.Environment)
	data := map[string][]byte{
		snapshot.CredentialsKey: enc.Credentials,
		snapshot.IndexDigestKey: []byte(snapshot.IndexDigest(enc.Index)),
		snapshot.GenerationKey:  []byte(strconv.FormatInt(enc.Generation, 10)),
	}
	current, err := w.Objects.GetSecret(ctx, name)
	if err == nil && maps.EqualFunc(current.Data, data, bytes.Equal) && w.owns(current) {
		return nil
	}
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("read Secret %s: %w", name, err)
	}
	secret := corev1ac.Secret(name, w.Namespace).
		WithType(corev1.SecretTypeOpaque).
		WithLabels(w.SecretLabels).
		WithOwnerReferences(w.Owner).
		WithData(data)
	if err := w.Objects.ApplySecret(ctx, secret); err != nil {
		// The API server's error names the object, never its data.
		return fmt.Errorf("apply Secret %s: %w", name, err)
	}
	return nil
}

func (w *Writer) deleteConfigMap(ctx context.Context, name string) error {
	if _, err := w.Objects.GetConfigMap(ctx, name); apierrors.IsNotFound(err) {
		return nil
	} else if err != nil {
		return fmt.Errorf("read ConfigMap %s: %w", name, err)
	}
	if err := w.Objects.DeleteConfigMap(ctx, name); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete ConfigMap %s: %w", name, err)
	}
	return nil
}

func (w *Writer) owns(obj metav1.Object) bool {
	ref := metav1.GetControllerOfNoCopy(obj)
	return ref != nil && w.Owner.UID != nil && ref.UID == *w.Owner.UID
}
