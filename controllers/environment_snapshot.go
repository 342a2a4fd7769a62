package controllers

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/appapi-dev/appapi/api/v1alpha1"
	"github.com/appapi-dev/appapi/internal/snapshot"
	"github.com/appapi-dev/appapi/internal/token"
	"github.com/appapi-dev/appapi/internal/translate"
)

// reconcileSnapshot translates the Environment's resources, publishes the
// snapshot when it changed, and reports each AppAPI's verdict.
func (r *EnvironmentReconciler) reconcileSnapshot(ctx context.Context, s *environmentScope) error {
	in, apps, err := r.snapshotInput(ctx, s)
	if err != nil {
		return err
	}
	if err := r.loadPublished(ctx, s); err != nil {
		return err
	}
	in.Previous = s.state.sequencer.Last()
	out, err := s.state.translator.Translate(in)
	if err != nil {
		// Only the Environment's own settings make translation fail, and
		// the API server checks them; local files may not.
		s.observation.SnapshotErr = &snapshotError{reason: v1alpha1.ReasonSnapshotInvalid, err: err}
		return nil
	}
	if err := r.publish(ctx, s, out.Snapshot); err != nil {
		var serr *snapshotError
		if !errors.As(err, &serr) {
			return err
		}
		// Keep the last published snapshot and say why.
		s.observation.SnapshotErr = serr
	}

	published := s.state.sequencer.Last()
	served := map[string]int64{}
	if published != nil {
		for _, route := range published.Routes {
			served[route.Name+"/"+route.UID] = route.Generation
		}
		s.observation.SnapshotGeneration = published.Generation
		s.observation.AppAPIs = int32(len(published.Routes))
		s.observation.Tokens = countTokens(published.Credentials.Tokens)
	}
	var errs []error
	for i := range apps {
		app := &apps[i]
		gen := served[app.Name+"/"+string(app.UID)]
		errs = append(errs, r.updateAppAPIStatus(ctx, app, out.AppAPIs[app.Name], gen, gatewayURL(s.env)+app.Spec.Path))
	}
	return errors.Join(errs...)
}

// snapshotInput gathers what the translator needs from the cache, and the
// Environment's secret values from the API server.
func (r *EnvironmentReconciler) snapshotInput(ctx context.Context, s *environmentScope) (translate.Input, []v1alpha1.AppAPI, error) {
	env := s.env
	in := translate.Input{Environment: env, SecretValues: map[string]string{}}

	apps := &v1alpha1.AppAPIList{}
	if err := r.List(ctx, apps, client.InNamespace(env.Namespace), client.MatchingFields{indexAppAPIEnvironment: env.Name}); err != nil {
		return in, nil, err
	}
	in.AppAPIs = apps.Items

	tokens := &v1alpha1.ApiTokenList{}
	if err := r.List(ctx, tokens, client.InNamespace(env.Namespace), client.MatchingFields{indexApiTokenEnvironment: env.Name}); err != nil {
		return in, nil, err
	}
	live := map[string]types.UID{}
	for _, t := range tokens.Items {
		if t.DeletionTimestamp.IsZero() {
			live[t.Name] = t.UID
			in.TokenNames = append(in.TokenNames, t.Name)
		}
	}

	records := &corev1.SecretList{}
	if err := r.List(ctx, records, client.InNamespace(env.Namespace),
		client.MatchingLabels{LabelComponent: ComponentTokenRecord, LabelEnvironment: env.Name}); err != nil {
		return in, nil, err
	}
	for _, secret := range records.Items {
		name := secret.Labels[LabelToken]
		// A record counts only while the ApiToken that owns it exists:
		// deleting the ApiToken revokes its tokens at once.
		if uid, ok := live[name]; !ok || !isOwnedBy(&secret, uid) {
			continue
		}
		record, err := token.UnmarshalRecord(secret.Data[token.RecordKey])
		if err != nil {
			log.FromContext(ctx).Info("skipping a token record that does not parse", "secret", secret.Name)
			continue
		}
		in.Tokens = append(in.Tokens, record.Tokens(name)...)
	}

	secrets, err := translate.ResolveSecrets(env, func(name string) (*corev1.Secret, error) {
		secret := &corev1.Secret{}
		err := r.APIReader.Get(ctx, types.NamespacedName{Namespace: env.Namespace, Name: name}, secret)
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		return secret, err
	})
	if err != nil {
		return in, nil, err
	}
	in.SecretValues = secrets.Values
	s.observation.MissingSecrets, s.observation.RefusedSecrets = secrets.Missing, secrets.Refused
	if len(env.Spec.Secrets) > 0 {
		s.requeueSoonerThan(secretResyncInterval)
	}
	return in, apps.Items, nil
}

// snapshotError is a snapshot that cannot be published; the gateway keeps
// the last one.
type snapshotError struct {
	reason v1alpha1.Reason
	err    error
}

func (e *snapshotError) Error() string { return e.err.Error() }

// publish numbers next and writes it. Shards go first and the index last,
// so a gateway never sees an index whose shards are not there yet. An
// unchanged snapshot is written too: the write only restores edited objects.
func (r *EnvironmentReconciler) publish(ctx context.Context, s *environmentScope, next *snapshot.Snapshot) error {
	enc, changed, err := s.state.sequencer.Next(next)
	if errors.Is(err, snapshot.ErrTooLarge) {
		return &snapshotError{reason: v1alpha1.ReasonSnapshotTooLarge, err: err}
	}
	if err != nil {
		return &snapshotError{reason: v1alpha1.ReasonSnapshotInvalid, err: err}
	}
	if err := r.writeSnapshot(ctx, s.env, enc); err != nil {
		return err
	}
	if changed {
		log.FromContext(ctx).Info("published snapshot", "generation", next.Generation,
			"routes", len(next.Routes), "tokens", len(next.Credentials.Tokens), "shards", len(enc.Shards))
	}
	return nil
}

// writeSnapshot makes the snapshot objects hold enc, writing only those that
// differ, which also reverts anyone's edits to them.
func (r *EnvironmentReconciler) writeSnapshot(ctx context.Context, env *v1alpha1.Environment, enc *snapshot.Encoded) error {
	for i, data := range enc.Shards {
		name := snapshot.ShardName(env.Name, i)
		if err := r.applyConfigMap(ctx, env, name, nil, map[string][]byte{snapshot.ShardKey: data}); err != nil {
			return err
		}
	}
	if err := r.applyCredentials(ctx, env, enc.Credentials); err != nil {
		return err
	}
	if err := r.applyConfigMap(ctx, env, snapshot.IndexName(env.Name), map[string]string{snapshot.IndexKey: string(enc.Index)}, nil); err != nil {
		return err
	}
	// Shards beyond the current count belong to an older, larger snapshot.
	for i := len(enc.Shards); i < snapshot.MaxShards; i++ {
		cm := &corev1.ConfigMap{}
		key := types.NamespacedName{Namespace: env.Namespace, Name: snapshot.ShardName(env.Name, i)}
		if err := r.Get(ctx, key, cm); apierrors.IsNotFound(err) {
			continue
		} else if err != nil {
			return err
		}
		if err := r.Delete(ctx, cm); client.IgnoreNotFound(err) != nil {
			return err
		}
	}
	return nil
}

func (r *EnvironmentReconciler) applyConfigMap(ctx context.Context, env *v1alpha1.Environment, name string, data map[string]string, binary map[string][]byte) error {
	current := &corev1.ConfigMap{}
	err := r.Get(ctx, types.NamespacedName{Namespace: env.Namespace, Name: name}, current)
	if err == nil && maps.Equal(current.Data, data) && maps.EqualFunc(current.BinaryData, binary, bytes.Equal) && isOwnedBy(current, env.UID) {
		return nil
	}
	if err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	cm := corev1ac.ConfigMap(name, env.Namespace).
		WithLabels(environmentLabels(env.Name, ComponentSnapshot)).
		WithOwnerReferences(ownerReference(env))
	if data != nil {
		cm.WithData(data)
	}
	if binary != nil {
		cm.WithBinaryData(binary)
	}
	if err := r.Apply(ctx, cm, client.FieldOwner(FieldOwner), client.ForceOwnership); err != nil {
		return fmt.Errorf("apply ConfigMap %s: %w", name, err)
	}
	return nil
}

func (r *EnvironmentReconciler) applyCredentials(ctx context.Context, env *v1alpha1.Environment, data []byte) error {
	name := snapshot.CredentialsName(env.Name)
	current := &corev1.Secret{}
	err := r.Get(ctx, types.NamespacedName{Namespace: env.Namespace, Name: name}, current)
	if err == nil && bytes.Equal(current.Data[snapshot.CredentialsKey], data) && len(current.Data) == 1 && isOwnedBy(current, env.UID) {
		return nil
	}
	if err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	secret := corev1ac.Secret(name, env.Namespace).
		WithType(corev1.SecretTypeOpaque).
		WithLabels(environmentLabels(env.Name, ComponentCredentials)).
		WithOwnerReferences(ownerReference(env)).
		WithData(map[string][]byte{snapshot.CredentialsKey: data})
	if err := r.Apply(ctx, secret, client.FieldOwner(FieldOwner), client.ForceOwnership); err != nil {
		// The API server's error names the object, never its data.
		return fmt.Errorf("apply Secret %s: %w", name, err)
	}
	return nil
}

// loadPublished reads the published snapshot once after the manager
// starts, so that AppAPIs refused since keep their last accepted generation
// and the generation number keeps increasing.
func (r *EnvironmentReconciler) loadPublished(ctx context.Context, s *environmentScope) (retErr error) {
	if s.state.resumed {
		return nil
	}
	// Tried again on the next reconcile only when the API server failed.
	defer func() { s.state.resumed = retErr == nil }()
	env := s.env
	get := func(name string, obj client.Object) (bool, error) {
		err := r.Get(ctx, types.NamespacedName{Namespace: env.Namespace, Name: name}, obj)
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		return err == nil, err
	}
	indexCM := &corev1.ConfigMap{}
	if ok, err := get(snapshot.IndexName(env.Name), indexCM); !ok || err != nil {
		return err
	}
	idx, err := snapshot.DecodeIndex([]byte(indexCM.Data[snapshot.IndexKey]))
	if err != nil {
		log.FromContext(ctx).Info("ignoring a published snapshot index that does not parse", "error", err.Error())
		return nil
	}
	// Whatever else fails, the next generation must be newer.
	s.state.sequencer.Resume(&snapshot.Snapshot{Generation: idx.Generation})
	routes, err := snapshot.DecodeRoutes(idx, func(name string) ([]byte, bool) {
		cm := &corev1.ConfigMap{}
		ok, _ := get(name, cm)
		return cm.BinaryData[snapshot.ShardKey], ok
	})
	if err != nil {
		log.FromContext(ctx).Info("not reusing the published routes", "error", err.Error())
		return nil
	}
	creds := snapshot.Credentials{}
	secret := &corev1.Secret{}
	if ok, err := get(snapshot.CredentialsName(env.Name), secret); err != nil {
		return err
	} else if ok {
		if creds, err = snapshot.DecodeCredentials(secret.Data[snapshot.CredentialsKey]); err != nil {
			log.FromContext(ctx).Info("not reusing the published credentials", "error", err.Error())
		}
	}
	prev, err := snapshot.Assemble(idx, routes, creds)
	if err != nil {
		log.FromContext(ctx).Info("not reusing a published snapshot that does not validate", "error", err.Error())
		return nil
	}
	s.state.sequencer.Resume(prev)
	return nil
}

func countTokens(tokens []snapshot.Token) int32 {
	names := map[string]bool{}
	for _, t := range tokens {
		names[t.Name] = true
	}
	return int32(len(names))
}

func isOwnedBy(obj client.Object, uid types.UID) bool {
	for _, ref := range obj.GetOwnerReferences() {
		if ref.UID == uid && ref.Controller != nil && *ref.Controller {
			return true
		}
	}
	return false
}
