package controllers

import (
	"context"
	"errors"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/appapi-dev/appapi/api/v1alpha1"
	"github.com/appapi-dev/appapi/internal/snapshot"
	"github.com/appapi-dev/appapi/internal/snapshot/store"
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
	type object struct{ name, uid string }
	var served map[object]int64
	if published != nil {
		served = make(map[object]int64, len(published.Routes))
		for _, route := range published.Routes {
			served[object{route.Name, route.UID}] = route.Generation
		}
		s.observation.SnapshotGeneration = published.Generation
		s.observation.AppAPIs = int32(len(published.Routes))
		s.observation.Tokens = countTokens(published.Credentials.Tokens)
	}
	var errs []error
	for i := range apps {
		app := &apps[i]
		gen := served[object{app.Name, string(app.UID)}]
		errs = append(errs, r.updateAppAPIStatus(ctx, app, appAPIObservation{Verdict: out.AppAPIs[app.Name], Served: gen, URL: gatewayURL(s.env) + app.Spec.Path}))
	}
	return errors.Join(errs...)
}

// snapshotInput gathers what the translator needs from the cache, and the
// Environment's secret values from the API server.
func (r *EnvironmentReconciler) snapshotInput(ctx context.Context, s *environmentScope) (translate.Input, []v1alpha1.AppAPI, error) {
	env := s.env
	in := translate.Input{Environment: env, SecretValues: map[string]string{}}

	// The AppAPIs are the informer cache's own objects, not copies: copying
	// 10,000 of them on every reconcile cost more than translating them.
	// Translate only reads them (a test holds it to that), and
	// updateAppAPIStatus copies the one it writes.
	apps := &v1alpha1.AppAPIList{}
	if err := r.List(ctx, apps, client.InNamespace(env.Namespace), client.MatchingFields{indexAppAPIEnvironment: env.Name},
		client.UnsafeDisableDeepCopy); err != nil {
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
		// deleting the ApiToken revokes its tokens at once. Whoever may
		// create Secrets can copy the labels and the owner reference, but
		// the one name the token controller writes is already taken.
		if uid, ok := live[name]; !ok || !isTokenRecord(&secret, name, uid) {
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
	in.SecretValues, in.DatastoreURL = secrets.Values, secrets.DatastoreURL
	s.observation.MissingSecrets, s.observation.RefusedSecrets = secrets.Missing, secrets.Refused
	s.observation.DatastoreProblem = secrets.DatastoreProblem
	if len(env.Spec.Secrets) > 0 || env.Spec.Datastore != nil && env.Spec.Datastore.Postgres != nil {
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

// publish numbers next and writes it. An unchanged snapshot is written too:
// the store writes only the objects that differ, so this only restores
// edited or deleted ones.
func (r *EnvironmentReconciler) publish(ctx context.Context, s *environmentScope, next *snapshot.Snapshot) error {
	enc, changed, err := s.state.sequencer.Next(next)
	if errors.Is(err, snapshot.ErrTooLarge) {
		return &snapshotError{reason: v1alpha1.ReasonSnapshotTooLarge, err: err}
	}
	if err != nil {
		return &snapshotError{reason: v1alpha1.ReasonSnapshotInvalid, err: err}
	}
	if err := snapshotWriter(r.Client, s.env).Write(ctx, enc); err != nil {
		return err
	}
	if changed {
		log.FromContext(ctx).Info("published snapshot", "generation", next.Generation,
			"routes", len(next.Routes), "tokens", len(next.Credentials.Tokens), "shards", len(enc.Shards))
	}
	return nil
}

// loadPublished reads the published snapshot once after the manager
// starts, so that AppAPIs refused since keep their last accepted generation
// and the generation number keeps increasing. Only a snapshot whose index
// the credentials name is reused: routes from an index anyone else wrote
// must not be published again as the manager's.
func (r *EnvironmentReconciler) loadPublished(ctx context.Context, s *environmentScope) (retErr error) {
	if s.state.resumed {
		return nil
	}
	// Tried again on the next reconcile only when the API server failed.
	defer func() { s.state.resumed = retErr == nil }()
	reader := snapshotReader(r.Client, s.env.Namespace, s.env.Name)
	idx, err := reader.ReadIndex(ctx)
	switch {
	case errors.Is(err, store.ErrNotPublished):
		return nil
	case errors.Is(err, store.ErrUnreadable):
		log.FromContext(ctx).Info("ignoring a published snapshot index that does not parse", "error", err.Error())
		return nil
	case err != nil:
		return err
	}
	// Whatever else fails, the next generation must be newer than the one
	// the credentials name, which may be one past the index when the last
	// publish stopped between the two. Only when an older manager wrote
	// the credentials, without a generation, is the index's own trusted.
	generation, err := reader.BoundGeneration(ctx)
	switch {
	case errors.Is(err, store.ErrNotBound):
		generation = idx.Generation
	case errors.Is(err, store.ErrNotPublished):
		generation = 0
	case err != nil:
		return err
	}
	s.state.sequencer.Resume(&snapshot.Snapshot{Header: snapshot.Header{Generation: generation}})
	prev, err := reader.ReadSnapshot(ctx, idx)
	switch {
	case errors.Is(err, store.ErrNotPublished) || errors.Is(err, store.ErrUnreadable):
		log.FromContext(ctx).Info("not reusing the published snapshot", "error", err.Error())
		return nil
	case err != nil:
		return err
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

// isTokenRecord says whether secret is the record the token controller
// writes for the live ApiToken token of UID uid: its name, controller and
// labels.
func isTokenRecord(secret *corev1.Secret, token string, uid types.UID) bool {
	return secret.Name == tokenRecordName(token) && isOwnedBy(secret, uid) &&
		secret.Labels[LabelManagedBy] == ManagedByValue && secret.Labels[LabelComponent] == ComponentTokenRecord
}

func isOwnedBy(obj client.Object, uid types.UID) bool {
	for _, ref := range obj.GetOwnerReferences() {
		if ref.UID == uid && ref.Controller != nil && *ref.Controller {
			return true
		}
	}
	return false
}
