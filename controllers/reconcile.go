package controllers

import (
	"context"
	"errors"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
)

// objectReconciler is the reconcile that the Environment and ApiToken
// controllers share, in the manner of Cluster API's: get the object; run
// the deletion path, or ensure the finalizer; run the phases in order,
// keeping the soonest requeue any of them asks for; then compute the status
// with the kind's pure status function and patch it only when it changed.
// The status functions write observedGeneration only when the phases ended
// without an error, so kstatus reads Current only once the controller has
// acted on the latest spec.
type objectReconciler[T client.Object, S phaseScope] struct {
	client    client.Client
	newObject func() T
	// gone handles a request for an object that does not exist (any more);
	// nil when there is nothing to do.
	gone func(ctx context.Context, key types.NamespacedName) error
	// finalize cleans up what the object owns before its finalizer goes.
	finalize func(ctx context.Context, obj T) error
	// newScope starts one reconcile of obj.
	newScope func(obj T) S
	phases   []func(context.Context, S) error
}

// phaseScope is a kind's scope: what one reconcile learns, phase by phase.
type phaseScope interface {
	progress() *phaseProgress
	// setStatus computes the object's status, with the kind's pure status
	// function, from what the phases observed and err, the error that ended
	// them.
	setStatus(err error)
}

// phaseProgress is what phases tell the skeleton besides their errors.
// Every kind's scope embeds it.
type phaseProgress struct {
	// requeueAfter is the soonest a phase wants to run again.
	requeueAfter time.Duration
	// stop ends the phases early without an error: the status says why.
	stop bool
}

func (p *phaseProgress) progress() *phaseProgress { return p }

// requeueSoonerThan asks for the next reconcile after d at the latest.
func (p *phaseProgress) requeueSoonerThan(d time.Duration) {
	if p.requeueAfter == 0 || d < p.requeueAfter {
		p.requeueAfter = d
	}
}

// Reconcile brings one object, and what it owns, up to date.
func (o *objectReconciler[T, S]) Reconcile(ctx context.Context, req ctrl.Request) (_ ctrl.Result, retErr error) {
	obj := o.newObject()
	if err := o.client.Get(ctx, req.NamespacedName, obj); err != nil {
		if apierrors.IsNotFound(err) && o.gone != nil {
			return ctrl.Result{}, o.gone(ctx, req.NamespacedName)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !obj.GetDeletionTimestamp().IsZero() {
		if err := o.finalize(ctx, obj); err != nil {
			return ctrl.Result{}, err
		}
		return ctrl.Result{}, client.IgnoreNotFound(o.patchFinalizer(ctx, obj, controllerutil.RemoveFinalizer))
	}
	if err := o.patchFinalizer(ctx, obj, controllerutil.AddFinalizer); err != nil {
		return ctrl.Result{}, err
	}

	scope := o.newScope(obj)
	// The phases read the object and never change it, so whatever differs
	// from before at the end is the status.
	before := obj.DeepCopyObject().(T)
	defer func() {
		scope.setStatus(retErr)
		if equality.Semantic.DeepEqual(before, obj) {
			return
		}
		// A merge patch: this controller is the status's only writer, so
		// it need not fail on a concurrent change to the spec.
		if err := o.client.Status().Patch(ctx, obj, client.MergeFrom(before)); err != nil && !apierrors.IsNotFound(err) {
			retErr = errors.Join(retErr, err)
		}
	}()

	progress := scope.progress()
	for _, phase := range o.phases {
		if err := phase(ctx, scope); err != nil {
			return ctrl.Result{}, err
		}
		if progress.stop {
			break
		}
	}
	return ctrl.Result{RequeueAfter: progress.requeueAfter}, nil
}

// patchFinalizer adds or removes Finalizer, and patches the object when
// that changed it. The optimistic lock matters: a merge patch replaces the
// whole list, and must not drop a finalizer another controller added
// meanwhile.
func (o *objectReconciler[T, S]) patchFinalizer(ctx context.Context, obj T, change func(client.Object, string) bool) error {
	patch := client.MergeFromWithOptions(obj.DeepCopyObject().(T), client.MergeFromWithOptimisticLock{})
	if !change(obj, Finalizer) {
		return nil
	}
	return o.client.Patch(ctx, obj, patch)
}
