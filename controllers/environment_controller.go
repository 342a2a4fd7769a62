package controllers

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
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
	"github.com/appapi-dev/appapi/gateway/expr"
	"github.com/appapi-dev/appapi/internal/snapshot"
	"github.com/appapi-dev/appapi/internal/token"
	"github.com/appapi-dev/appapi/internal/translate"
)

// secretResyncInterval is how often an Environment that reads Secrets
// re-reads them. The manager caches only its own Secrets, so it does not
// see users' Secrets change; see docs/architecture.md.
const secretResyncInterval = time.Minute

// EnvironmentReconciler runs an Environment's gateway and publishes its
// snapshot. Like Envoy Gateway, it rebuilds the whole snapshot of one
// Environment on any change to it or to its AppAPIs and tokens, and so is
// also the controller that reports AppAPI status: an AppAPI's verdict
// depends on the other AppAPIs of its Environment.
type EnvironmentReconciler struct {
	client.Client
	// APIReader reads the Secrets named by Environment.spec.secrets, which
	// are not in the manager's cache.
	APIReader    client.Reader
	Recorder     events.EventRecorder
	GatewayImage string
	Expr         *expr.Compiler

	mu sync.Mutex
	// environments holds, per Environment, the sequencer of its published
	// snapshots and the translator whose compile cache belongs to it.
	environments map[types.NamespacedName]*environmentState
}

type environmentState struct {
	// sequencer numbers the published snapshots; resumed says it has
	// read back what an earlier manager published.
	sequencer  snapshot.Sequencer
	resumed    bool
	translator *translate.Translator
}

// environmentScope carries what one reconcile learns, phase by phase, for
// the status computed at the end.
type environmentScope struct {
	phaseProgress
	env   *v1alpha1.Environment
	state *environmentState
	// deployment is set by reconcileGateway.
	deployment *appsv1.Deployment
	// observation is filled by every phase.
	observation environmentObservation
}

func (s *environmentScope) setStatus(err error) {
	s.observation.ReconcileErr = err
	s.env.Status = environmentStatus(s.env.Status, s.env, s.observation)
}

// +kubebuilder:rbac:groups=appapi.dev,resources=environments;apitokens;appapis,verbs=get;list;watch;patch
// +kubebuilder:rbac:groups=appapi.dev,resources=environments/status;apitokens/status;appapis/status,verbs=get;patch
// +kubebuilder:rbac:groups=appapi.dev,resources=environments/finalizers;apitokens/finalizers,verbs=update
// +kubebuilder:rbac:groups=apps,resources=deployments,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups="",resources=services;serviceaccounts;configmaps;secrets,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups="",resources=persistentvolumeclaims,verbs=get;list;watch;create;patch
// +kubebuilder:rbac:groups=rbac.authorization.k8s.io,resources=roles;rolebindings,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile brings one Environment's gateway and snapshot up to date, in
// phases: signing key, datastore claim, gateway objects, snapshot.
func (r *EnvironmentReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	return (&objectReconciler[*v1alpha1.Environment, *environmentScope]{
		client:    r.Client,
		newObject: func() *v1alpha1.Environment { return &v1alpha1.Environment{} },
		gone:      r.reconcileGone,
		finalize:  r.reconcileDelete,
		newScope: func(env *v1alpha1.Environment) *environmentScope {
			s := &environmentScope{env: env, state: r.state(req.NamespacedName)}
			s.observation.URL = gatewayURL(env)
			return s
		},
		phases: []func(context.Context, *environmentScope) error{
			r.reconcileSigningKey,
			r.reconcileDatastore,
			r.reconcileGateway,
			r.reconcileSnapshot,
		},
	}).Reconcile(ctx, req)
}

// reconcileSigningKey creates the key that signs the Environment's tokens,
// once. An existing key is never replaced: that would leave tokens signed by
// a key nobody has. Tokens are verified by hash, so the key matters only
// to whoever checks a token's signature offline.
func (r *EnvironmentReconciler) reconcileSigningKey(ctx context.Context, s *environmentScope) error {
	env := s.env
	secret := &corev1.Secret{}
	err := r.Get(ctx, types.NamespacedName{Namespace: env.Namespace, Name: signingKeyName(env.Name)}, secret)
	if err == nil {
		if _, perr := token.ParseSigningKey(secret.Data); perr != nil {
			s.observation.SigningKeyErr = fmt.Errorf("Secret %s: %v; delete it to have a new key made, which invalidates no token: tokens are checked by hash", secret.Name, perr)
		}
		return nil
	}
	if !apierrors.IsNotFound(err) {
		return err
	}
	data, err := token.NewSigningKey()
	if err != nil {
		return err
	}
	secret = &corev1.Secret{Type: corev1.SecretTypeOpaque, Data: data}
	secret.Name, secret.Namespace = signingKeyName(env.Name), env.Namespace
	secret.Labels = environmentLabels(env.Name, ComponentSigningKey)
	if err := controllerutil.SetControllerReference(env, secret, r.Scheme()); err != nil {
		return err
	}
	if err := r.Create(ctx, secret); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	return nil
}

// reconcileGateway applies the gateway's ServiceAccount, Role, RoleBinding,
// Service and Deployment.
func (r *EnvironmentReconciler) reconcileGateway(ctx context.Context, s *environmentScope) error {
	env := s.env
	opts := []client.ApplyOption{client.FieldOwner(FieldOwner), client.ForceOwnership}
	for _, obj := range []namedApplyConfiguration{
		desiredServiceAccount(env), desiredRole(env), desiredRoleBinding(env), desiredService(env), desiredDeployment(env, r.GatewayImage),
	} {
		if err := r.Apply(ctx, obj, opts...); err != nil {
			return fmt.Errorf("apply %s: %w", *obj.GetName(), err)
		}
	}
	s.deployment = &appsv1.Deployment{}
	if err := r.Get(ctx, types.NamespacedName{Namespace: env.Namespace, Name: gatewayName(env.Name)}, s.deployment); err != nil {
		if !apierrors.IsNotFound(err) {
			return err
		}
		// Applied but not in the cache yet; its creation event brings us back.
		s.deployment = nil
	}
	s.observation.Deployment = s.deployment
	return nil
}

type namedApplyConfiguration interface {
	runtime.ApplyConfiguration
	GetName() *string
}

// reconcileDelete removes what the Environment owns. Owner references would
// do the same through the garbage collector; deleting explicitly also works
// where no garbage collector runs, and stops the gateway before the
// Environment disappears from kubectl.
func (r *EnvironmentReconciler) reconcileDelete(ctx context.Context, env *v1alpha1.Environment) error {
	for _, obj := range ownedObjects(env) {
		if err := r.Delete(ctx, obj, client.PropagationPolicy(metav1.DeletePropagationBackground)); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("delete %s: %w", obj.GetName(), err)
		}
	}
	r.forget(client.ObjectKeyFromObject(env))
	return nil
}

// reconcileGone forgets an Environment that no longer exists, and tells
// the AppAPIs that name it.
func (r *EnvironmentReconciler) reconcileGone(ctx context.Context, key types.NamespacedName) error {
	r.forget(key)
	return r.reportMissingEnvironment(ctx, key)
}

// ownedObjects names everything an Environment makes: its gateway, signing
// key and snapshot. Its ApiTokens' records belong to the ApiTokens.
func ownedObjects(env *v1alpha1.Environment) []client.Object {
	meta := func(name string) metav1.ObjectMeta { return metav1.ObjectMeta{Namespace: env.Namespace, Name: name} }
	gateway := meta(gatewayName(env.Name))
	objs := []client.Object{
		&appsv1.Deployment{ObjectMeta: gateway}, &corev1.Service{ObjectMeta: gateway},
		&rbacv1.RoleBinding{ObjectMeta: gateway}, &rbacv1.Role{ObjectMeta: gateway}, &corev1.ServiceAccount{ObjectMeta: gateway},
		&corev1.Secret{ObjectMeta: meta(signingKeyName(env.Name))},
		&corev1.Secret{ObjectMeta: meta(snapshot.CredentialsName(env.Name))},
		&corev1.ConfigMap{ObjectMeta: meta(snapshot.IndexName(env.Name))},
	}
	for i := range snapshot.MaxShards {
		objs = append(objs, &corev1.ConfigMap{ObjectMeta: meta(snapshot.ShardName(env.Name, i))})
	}
	return objs
}

// reportMissingEnvironment tells each AppAPI that names a missing
// Environment why nothing serves it.
func (r *EnvironmentReconciler) reportMissingEnvironment(ctx context.Context, key types.NamespacedName) error {
	apps := &v1alpha1.AppAPIList{}
	if err := r.List(ctx, apps, client.InNamespace(key.Namespace), client.MatchingFields{indexAppAPIEnvironment: key.Name}); err != nil {
		return err
	}
	verdict := translate.Verdict{Reason: v1alpha1.ReasonEnvironmentNotFound,
		Message: fmt.Sprintf("no Environment %q in namespace %q: create it or fix spec.environment", key.Name, key.Namespace)}
	var errs []error
	for i := range apps.Items {
		errs = append(errs, r.updateAppAPIStatus(ctx, &apps.Items[i], appAPIObservation{Verdict: verdict}))
	}
	return errors.Join(errs...)
}

func (r *EnvironmentReconciler) state(key types.NamespacedName) *environmentState {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.environments == nil {
		r.environments = map[types.NamespacedName]*environmentState{}
	}
	st, ok := r.environments[key]
	if !ok {
		st = &environmentState{translator: translate.New(r.Expr)}
		r.environments[key] = st
	}
	return st
}

func (r *EnvironmentReconciler) forget(key types.NamespacedName) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.environments, key)
}

// Field indexes that map AppAPIs and ApiTokens to their Environment.
const (
	indexAppAPIEnvironment   = "spec.environment"
	indexApiTokenEnvironment = "spec.environment"
)

// SetupWithManager registers the controller and its watches.
func (r *EnvironmentReconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Client == nil || r.APIReader == nil || r.Recorder == nil || r.Expr == nil || r.GatewayImage == "" {
		return errors.New("EnvironmentReconciler needs Client, APIReader, Recorder, Expr and GatewayImage")
	}
	byEnvironmentField := func(_ context.Context, obj client.Object) []reconcile.Request {
		var env string
		switch o := obj.(type) {
		case *v1alpha1.AppAPI:
			env = o.Spec.Environment
		case *v1alpha1.ApiToken:
			env = o.Spec.Environment
		}
		return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: obj.GetNamespace(), Name: env}}}
	}
	byEnvironmentLabel := func(_ context.Context, obj client.Object) []reconcile.Request {
		env, ok := obj.GetLabels()[LabelEnvironment]
		if !ok || obj.GetLabels()[LabelComponent] != ComponentTokenRecord {
			return nil
		}
		return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: obj.GetNamespace(), Name: env}}}
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&v1alpha1.Environment{}).
		Owns(&appsv1.Deployment{}).
		Owns(&corev1.Service{}).
		Owns(&corev1.ServiceAccount{}).
		Owns(&rbacv1.Role{}).
		Owns(&rbacv1.RoleBinding{}).
		Owns(&corev1.ConfigMap{}).
		Owns(&corev1.Secret{}).
		Owns(&corev1.PersistentVolumeClaim{}).
		// AppAPI status is ours to write, so only spec changes matter.
		Watches(&v1alpha1.AppAPI{}, handler.EnqueueRequestsFromMapFunc(byEnvironmentField),
			builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		// Any ApiToken change may change which tokens exist.
		Watches(&v1alpha1.ApiToken{}, handler.EnqueueRequestsFromMapFunc(byEnvironmentField),
			builder.WithPredicates(tokenExistenceChanged())).
		Watches(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(byEnvironmentLabel)).
		Named("environment").
		Complete(r)
}

// tokenExistenceChanged passes creations, deletions and the start of a
// deletion, which is when a token stops counting.
func tokenExistenceChanged() predicate.Predicate {
	return predicate.Funcs{
		UpdateFunc: func(e event.UpdateEvent) bool {
			return e.ObjectOld.GetDeletionTimestamp().IsZero() != e.ObjectNew.GetDeletionTimestamp().IsZero()
		},
	}
}

func indexEnvironmentReferences(ctx context.Context, mgr ctrl.Manager) error {
	indexer := mgr.GetFieldIndexer()
	if err := indexer.IndexField(ctx, &v1alpha1.AppAPI{}, indexAppAPIEnvironment, func(o client.Object) []string {
		return []string{o.(*v1alpha1.AppAPI).Spec.Environment}
	}); err != nil {
		return err
	}
	return indexer.IndexField(ctx, &v1alpha1.ApiToken{}, indexApiTokenEnvironment, func(o client.Object) []string {
		return []string{o.(*v1alpha1.ApiToken).Spec.Environment}
	})
}
