package controllers

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/appapi-dev/appapi/api/v1alpha1"
)

// DataDir is where the gateway keeps an SQLite datastore: the mount path
// of the Environment's claim and the gateway's --data-dir.
const DataDir = "/var/lib/appapi"

// defaultDataStorage is the claim's size when spec.datastore.sqlite.storage
// is unset, as the CRD's default says; only objects that bypassed the API
// server's defaulting lack it.
var defaultDataStorage = resource.MustParse("1Gi")

// sqliteDatastore is the Environment's SQLite datastore, or nil.
func sqliteDatastore(env *v1alpha1.Environment) *v1alpha1.SQLiteDatastore {
	if env.Spec.Datastore == nil {
		return nil
	}
	return env.Spec.Datastore.SQLite
}

// requestedReplicas is spec.gateway.replicas, 1 when unset.
func requestedReplicas(env *v1alpha1.Environment) int32 {
	if env.Spec.Gateway.Replicas == nil {
		return 1
	}
	return *env.Spec.Gateway.Replicas
}

// gatewayReplicas is the gateway Deployment's replicas: the requested
// number, but at most 1 with an SQLite datastore, whose file one process
// opens. The Environment says so (EmbeddedDatastoreSingleReplica) rather than
// stop serving.
func gatewayReplicas(env *v1alpha1.Environment) int32 {
	if n := requestedReplicas(env); sqliteDatastore(env) == nil || n <= 1 {
		return n
	}
	return 1
}

// reconcileDatastore creates the claim of an SQLite datastore and grows it
// with spec.datastore.sqlite.storage; it runs before the gateway, whose
// Pod mounts the claim. Switching to PostgreSQL or to no datastore keeps
// the claim: an edit never deletes data. The claim goes with the
// Environment, by its owner reference.
func (r *EnvironmentReconciler) reconcileDatastore(ctx context.Context, s *environmentScope) error {
	env := s.env
	sqlite := sqliteDatastore(env)
	if sqlite == nil {
		return nil
	}
	if n := requestedReplicas(env); n > 1 {
		s.observation.RefusedReplicas = n
	}
	want := defaultDataStorage
	if sqlite.Storage != nil {
		want = *sqlite.Storage
	}
	claim, err := r.dataClaim(ctx, env, want, sqlite.StorageClassName)
	if err != nil || claim == nil {
		return err
	}
	if class := sqlite.StorageClassName; class != nil && (claim.Spec.StorageClassName == nil || *claim.Spec.StorageClassName != *class) {
		s.observation.DataClaimNotes = append(s.observation.DataClaimNotes, fmt.Sprintf(
			"spec.datastore.sqlite.storageClassName %q is not the class of PersistentVolumeClaim %s, which never changes; the claim keeps its class",
			*class, claim.Name))
	}
	have := claim.Spec.Resources.Requests[corev1.ResourceStorage]
	switch want.Cmp(have) {
	case -1:
		s.observation.DataClaimNotes = append(s.observation.DataClaimNotes, fmt.Sprintf("spec.datastore.sqlite.storage %s is smaller than the %s PersistentVolumeClaim %s requests; a claim never shrinks, so it keeps %s",
			want.String(), have.String(), claim.Name, have.String()))
	case 1:
		patch := client.MergeFrom(claim.DeepCopy())
		claim.Spec.Resources.Requests[corev1.ResourceStorage] = want
		err := r.Patch(ctx, claim, patch)
		switch {
		case apierrors.IsForbidden(err) || apierrors.IsInvalid(err):
			// The storage class cannot expand volumes, or the claim is not
			// bound yet: only a person, or time, changes that. Only the
			// first line: an invalid update's message goes on with a diff.
			why, _, _ := strings.Cut(err.Error(), "\n")
			s.observation.DataClaimNotes = append(s.observation.DataClaimNotes, fmt.Sprintf(
				"PersistentVolumeClaim %s cannot grow from %s to %s: %s", claim.Name, have.String(), want.String(), why))
		case err != nil:
			return fmt.Errorf("grow PersistentVolumeClaim %s: %w", claim.Name, err)
		}
	}
	return nil
}

// dataClaim returns the Environment's claim, creating it when it does not
// exist; nil when it was just created.
func (r *EnvironmentReconciler) dataClaim(ctx context.Context, env *v1alpha1.Environment, storage resource.Quantity, class *string) (*corev1.PersistentVolumeClaim, error) {
	key := types.NamespacedName{Namespace: env.Namespace, Name: dataClaimName(env.Name)}
	claim := &corev1.PersistentVolumeClaim{}
	err := r.Get(ctx, key, claim)
	if err == nil || !apierrors.IsNotFound(err) {
		return claim, err
	}
	claim = desiredDataClaim(env, storage, class)
	if err := controllerutil.SetControllerReference(env, claim, r.Scheme()); err != nil {
		return nil, err
	}
	err = r.Create(ctx, claim)
	if !apierrors.IsAlreadyExists(err) {
		return nil, err
	}
	// A claim of that name that the controller did not label (one restored
	// from a backup, say) is not in its cache: it is the Environment's all
	// the same, mounted and grown like one the controller made.
	claim = &corev1.PersistentVolumeClaim{}
	return claim, r.APIReader.Get(ctx, key, claim)
}

// desiredDataClaim is a new claim for an SQLite datastore: ReadWriteOnce,
// since one Pod opens the file. Only its size changes later; the API server
// keeps the rest of a claim's spec as it was created.
func desiredDataClaim(env *v1alpha1.Environment, storage resource.Quantity, class *string) *corev1.PersistentVolumeClaim {
	claim := &corev1.PersistentVolumeClaim{Spec: corev1.PersistentVolumeClaimSpec{
		AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
		Resources:        corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: storage}},
		StorageClassName: class,
	}}
	claim.Name, claim.Namespace = dataClaimName(env.Name), env.Namespace
	claim.Labels = environmentLabels(env.Name, ComponentData)
	return claim
}
