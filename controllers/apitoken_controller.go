package controllers

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"maps"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/appapi-dev/appapi/api/v1alpha1"
	"github.com/appapi-dev/appapi/internal/snapshot"
	"github.com/appapi-dev/appapi/internal/snapshot/store"
	"github.com/appapi-dev/appapi/internal/token"
)

// ApiTokenReconciler mints, rotates and revokes ApiTokens. It writes each
// token's plaintext once, to the token's Secret, and keeps only its hash,
// in the token's record Secret, which the EnvironmentReconciler publishes.
type ApiTokenReconciler struct {
	client.Client
	// APIReader reads the token's Secret and record past the cache: a
	// stale cache must never make the controller mint twice, and the
	// cache holds only Secrets the controllers made.
	APIReader client.Reader
	Recorder  events.EventRecorder
	Now       func() time.Time
}

// tokenScope carries what one reconcile learns, phase by phase.
type tokenScope struct {
	phaseProgress
	token *v1alpha1.ApiToken
	now   time.Time
	// key is set by reconcileEnvironment.
	key ed25519.PrivateKey
	// record is set by reconcileRecord.
	record      *token.Record
	observation tokenObservation
}

func (s *tokenScope) setStatus(err error) {
	s.observation.ReconcileErr = err
	s.token.Status = apiTokenStatus(s.token.Status, s.token, s.observation)
}

// Reconcile brings one ApiToken's token, record and status up to date, in
// phases: the Secret's name, the Environment's signing key, the token and
// its record, the deadlines to come back at, the token's publication.
func (r *ApiTokenReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	return (&objectReconciler[*v1alpha1.ApiToken, *tokenScope]{
		client:    r.Client,
		newObject: func() *v1alpha1.ApiToken { return &v1alpha1.ApiToken{} },
		finalize:  r.reconcileDelete,
		newScope: func(tok *v1alpha1.ApiToken) *tokenScope {
			s := &tokenScope{token: tok, now: r.Now()}
			s.observation.Now = s.now
			return s
		},
		phases: []func(context.Context, *tokenScope) error{
			r.reconcileSecretName,
			r.reconcileEnvironment,
			r.reconcileRecord,
			r.reconcileDeadlines,
			r.reconcilePublication,
		},
	}).Reconcile(ctx, req)
}

// reconcileSecretName refuses a token Secret name the controllers keep for
// their own Secrets, before anything is read or written under it.
func (r *ApiTokenReconciler) reconcileSecretName(_ context.Context, s *tokenScope) error {
	if reservedSecretName(s.token.TokenSecretName()) {
		s.observation.SecretNameReserved, s.stop = true, true
	}
	return nil
}

// reconcileEnvironment finds the Environment's signing key; without it
// nothing is minted.
func (r *ApiTokenReconciler) reconcileEnvironment(ctx context.Context, s *tokenScope) error {
	ns, envName := s.token.Namespace, s.token.Spec.Environment
	if err := r.Get(ctx, types.NamespacedName{Namespace: ns, Name: envName}, &v1alpha1.Environment{}); err != nil {
		if apierrors.IsNotFound(err) {
			s.observation.EnvironmentMissing, s.stop = true, true
			return nil
		}
		return err
	}
	secret := &corev1.Secret{}
	if err := r.Get(ctx, types.NamespacedName{Namespace: ns, Name: signingKeyName(envName)}, secret); err != nil {
		if apierrors.IsNotFound(err) {
			s.observation.SigningKeyPending, s.stop = true, true
			return nil
		}
		return err
	}
	key, err := token.ParseSigningKey(secret.Data)
	if err != nil {
		// The Environment reports the bad key; wait for it to be replaced.
		s.observation.SigningKeyPending, s.stop = true, true
		return nil
	}
	s.key = key
	return nil
}

// reconcileRecord mints the first token, recovers a record lost in a crash,
// rotates on request, and keeps expiry and grace periods current.
func (r *ApiTokenReconciler) reconcileRecord(ctx context.Context, s *tokenScope) error {
	tok := s.token
	recordSecret := &corev1.Secret{}
	err := r.APIReader.Get(ctx, types.NamespacedName{Namespace: tok.Namespace, Name: tokenRecordName(tok.Name)}, recordSecret)
	if err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	var record *token.Record
	var stored []byte
	var existing *corev1.Secret
	if err == nil {
		switch {
		case isOwnedBy(recordSecret, tok.UID):
		case recordSecret.Labels[LabelComponent] == ComponentTokenRecord && recordSecret.Labels[LabelManagedBy] == ManagedByValue:
			// Left by an ApiToken of the same name that is gone: its
			// tokens must not count for this one.
			if err := r.Delete(ctx, recordSecret, client.Preconditions{UID: &recordSecret.UID}); client.IgnoreNotFound(err) != nil {
				return err
			}
			recordSecret = nil
		default:
			return fmt.Errorf("Secret %s exists and is not a token record: rename or delete it", recordSecret.Name)
		}
		if recordSecret != nil {
			existing = recordSecret
			stored = recordSecret.Data[token.RecordKey]
			// A record that does not parse is replaced like a missing one.
			record, _ = token.UnmarshalRecord(stored)
		}
	}

	plaintext := &corev1.Secret{}
	err = r.APIReader.Get(ctx, types.NamespacedName{Namespace: tok.Namespace, Name: tok.TokenSecretName()}, plaintext)
	if err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	secretExists := err == nil
	if secretExists && !isOwnedBy(plaintext, tok.UID) {
		if record == nil || tok.RotationRequested(record.Rotation) {
			s.observation.SecretConflict = fmt.Sprintf("Secret %q exists and is not owned by this ApiToken; delete it or set spec.secretName", plaintext.Name)
			s.stop = true
			r.Recorder.Eventf(tok, nil, corev1.EventTypeWarning, v1alpha1.ReasonSecretConflict, "Mint", "%s", s.observation.SecretConflict)
			return nil
		}
		secretExists = false // ours was deleted and someone else's took its name
	}

	if record == nil && secretExists {
		// The Secret was written but the record was not: recover it
		// rather than mint a second token.
		minted, err := token.Inspect(s.key, string(plaintext.Data[v1alpha1.TokenSecretKey]), token.SubjectOf(tok))
		if err != nil {
			s.observation.SecretConflict = fmt.Sprintf("Secret %q: %v; delete the Secret to mint a new token", plaintext.Name, err)
			s.stop = true
			return nil
		}
		record = token.NewRecord(minted, tok)
	}
	var ours *corev1.Secret
	if secretExists {
		ours = plaintext
	}
	d, err := token.Reconcile(record, tok, s.now, func() (token.Minted, error) { return r.mint(ctx, s, ours) })
	if err != nil {
		return err
	}
	switch {
	case d.Replaced != "":
		r.Recorder.Eventf(tok, nil, corev1.EventTypeNormal, "Rotated", "Rotate",
			"minted token %s into Secret %s; token %s stays valid for %s", d.Minted.ID, tok.TokenSecretName(), d.Replaced, d.Grace)
	case d.Minted != nil:
		r.Recorder.Eventf(tok, nil, corev1.EventTypeNormal, "Minted", "Mint", "minted token %s into Secret %s", d.Minted.ID, tok.TokenSecretName())
	}
	record = d.Record
	s.observation.NextGraceEnd = d.NextGraceEnd
	s.record = record
	s.observation.Record = record

	data, err := record.Marshal()
	if err != nil {
		return err
	}
	if bytes.Equal(data, stored) {
		return nil
	}
	return r.writeRecord(ctx, tok, existing, data)
}

// mint signs a new token and writes it to the token's Secret, replacing the
// text of existing, before the record changes: a crash in between leaves a
// token nobody can use rather than a record of a token nobody has.
func (r *ApiTokenReconciler) mint(ctx context.Context, s *tokenScope, existing *corev1.Secret) (token.Minted, error) {
	tok := s.token
	minted, err := token.Mint(s.key, token.SubjectOf(tok), s.now)
	if err != nil {
		return minted, err
	}
	secret := existing
	if secret == nil {
		secret = &corev1.Secret{Type: corev1.SecretTypeOpaque}
		secret.Name, secret.Namespace = tok.TokenSecretName(), tok.Namespace
	}
	secret.Labels = map[string]string{LabelManagedBy: ManagedByValue, LabelComponent: ComponentToken,
		LabelEnvironment: tok.Spec.Environment, LabelToken: tok.Name}
	secret.Annotations = map[string]string{"appapi.dev/token-id": minted.ID}
	secret.Data = map[string][]byte{v1alpha1.TokenSecretKey: []byte(minted.Text)}
	if err := controllerutil.SetControllerReference(tok, secret, r.Scheme()); err != nil {
		return minted, err
	}
	if existing != nil {
		err = r.Update(ctx, secret)
	} else {
		err = r.Create(ctx, secret)
	}
	if err != nil {
		// The API server's error names the Secret, never its data.
		return minted, fmt.Errorf("write Secret %s: %w", secret.Name, err)
	}
	return minted, nil
}

// writeRecord creates the record, or updates existing, the copy just read
// past the cache: an update from a stale cached copy would conflict after a
// new token was already written to the token's Secret.
func (r *ApiTokenReconciler) writeRecord(ctx context.Context, tok *v1alpha1.ApiToken, existing *corev1.Secret, data []byte) error {
	secret := existing
	if secret == nil {
		secret = &corev1.Secret{Type: corev1.SecretTypeOpaque}
		secret.Name, secret.Namespace = tokenRecordName(tok.Name), tok.Namespace
	}
	secret.Labels = map[string]string{LabelManagedBy: ManagedByValue, LabelComponent: ComponentTokenRecord,
		LabelEnvironment: tok.Spec.Environment, LabelToken: tok.Name}
	secret.Data = map[string][]byte{token.RecordKey: data}
	if err := controllerutil.SetControllerReference(tok, secret, r.Scheme()); err != nil {
		return err
	}
	var err error
	if existing != nil {
		err = r.Update(ctx, secret)
	} else {
		err = r.Create(ctx, secret)
	}
	if err != nil {
		return fmt.Errorf("write token record %s: %w", secret.Name, err)
	}
	return nil
}

// reconcilePublication checks whether the Environment's published
// credentials hold the current token, which is when callers can use it.
func (r *ApiTokenReconciler) reconcilePublication(ctx context.Context, s *tokenScope) error {
	creds, err := snapshotReader(r.Client, s.token.Namespace, s.token.Spec.Environment).ReadCredentials(ctx)
	if errors.Is(err, store.ErrNotPublished) || errors.Is(err, store.ErrUnreadable) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, t := range creds.Tokens {
		if t.Name == s.token.Name && t.ID == s.record.Current.ID {
			s.observation.Published = true
		}
	}
	return nil
}

// reconcileDeadlines comes back when the token expires or a grace period
// ends, since nothing else signals those moments. Both matter only once
// the token has a record: before that, the status waits for something else.
func (r *ApiTokenReconciler) reconcileDeadlines(_ context.Context, s *tokenScope) error {
	// A little after the moment, so that the token has passed it.
	const margin = 100 * time.Millisecond
	if exp := s.token.Expiry(); exp != nil && exp.After(s.now) {
		s.requeueSoonerThan(exp.Sub(s.now) + margin)
	}
	if g := s.observation.NextGraceEnd; !g.IsZero() {
		s.requeueSoonerThan(g.Sub(s.now) + margin)
	}
	return nil
}

// reconcileDelete revokes every token of the ApiToken by deleting its
// record; the Environment republishes its credentials without them.
func (r *ApiTokenReconciler) reconcileDelete(ctx context.Context, tok *v1alpha1.ApiToken) error {
	record := &corev1.Secret{}
	record.Name, record.Namespace = tokenRecordName(tok.Name), tok.Namespace
	if err := r.Delete(ctx, record); err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	if controllerutil.ContainsFinalizer(tok, Finalizer) {
		r.Recorder.Eventf(tok, nil, corev1.EventTypeNormal, "Revoked", "Revoke", "token %s revoked", tok.Status.TokenID)
	}
	return nil
}

// SetupWithManager registers the controller and its watches.
func (r *ApiTokenReconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Client == nil || r.APIReader == nil || r.Recorder == nil {
		return errors.New("ApiTokenReconciler needs Client, APIReader and Recorder")
	}
	if r.Now == nil {
		r.Now = time.Now
	}
	tokensOfEnvironment := func(ctx context.Context, namespace, env string) []reconcile.Request {
		tokens := &v1alpha1.ApiTokenList{}
		if err := r.List(ctx, tokens, client.InNamespace(namespace), client.MatchingFields{indexApiTokenEnvironment: env}); err != nil {
			return nil
		}
		reqs := make([]reconcile.Request, 0, len(tokens.Items))
		for _, t := range tokens.Items {
			reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&t)})
		}
		return reqs
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&v1alpha1.ApiToken{}, builder.WithPredicates(predicate.Or(
			predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}))).
		Owns(&corev1.Secret{}).
		// An Environment appearing or going unblocks or blocks its tokens.
		Watches(&v1alpha1.Environment{}, handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, o client.Object) []reconcile.Request {
			return tokensOfEnvironment(ctx, o.GetNamespace(), o.GetName())
		}), builder.WithPredicates(tokenExistenceChanged(), predicate.Funcs{UpdateFunc: func(event.UpdateEvent) bool { return false }})).
		// The signing key appearing unblocks minting; published credentials make tokens Ready.
		Watches(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, o client.Object) []reconcile.Request {
			switch o.GetLabels()[LabelComponent] {
			case ComponentSigningKey, ComponentCredentials:
				return tokensOfEnvironment(ctx, o.GetNamespace(), o.GetLabels()[LabelEnvironment])
			}
			return nil
		}), builder.WithPredicates(credentialsChanged())).
		Named("apitoken").
		Complete(r)
}

// credentialsChanged lets through every Secret event but an update of
// credentials whose tokens and secrets are unchanged: the credentials
// Secret also names the snapshot's index, so every AppAPI edit rewrites it,
// and waking each of the Environment's tokens for that would be wasted.
func credentialsChanged() predicate.Predicate {
	return predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool {
		oldSecret, okOld := e.ObjectOld.(*corev1.Secret)
		newSecret, okNew := e.ObjectNew.(*corev1.Secret)
		if !okOld || !okNew || newSecret.Labels[LabelComponent] != ComponentCredentials {
			return true
		}
		return !bytes.Equal(oldSecret.Data[snapshot.CredentialsKey], newSecret.Data[snapshot.CredentialsKey]) ||
			!maps.Equal(oldSecret.Labels, newSecret.Labels)
	}}
}
