package controllers

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/selection"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/appapi-dev/appapi/api/v1alpha1"
	"github.com/appapi-dev/appapi/gateway/expr"
)

// Options configure the controllers.
type Options struct {
	// GatewayImage is the gateway image of Environments that name none.
	GatewayImage string
}

// NewScheme returns a scheme with the kinds the controllers use.
func NewScheme() *runtime.Scheme {
	s := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(s))
	utilruntime.Must(v1alpha1.AddToScheme(s))
	return s
}

// CacheOptions restrict the manager's caches of Secrets, ConfigMaps and
// PersistentVolumeClaims to the objects the controllers create, so the
// manager does not hold every Secret or claim of the cluster in memory. Users' Secrets named by
// Environment.spec.secrets are read directly from the API server, and so
// are the token Secrets: a token's text is kept out of the cache too.
func CacheOptions() cache.Options {
	own := labels.SelectorFromSet(labels.Set{LabelManagedBy: ManagedByValue})
	notTokens, err := labels.NewRequirement(LabelComponent, selection.NotEquals, []string{ComponentToken})
	utilruntime.Must(err)
	return cache.Options{ByObject: map[client.Object]cache.ByObject{
		&corev1.Secret{}:    {Label: own.Add(*notTokens)},
		&corev1.ConfigMap{}: {Label: own},
		// The claims of SQLite datastores.
		&corev1.PersistentVolumeClaim{}: {Label: own},
	}}
}

// Setup registers the field indexes and both controllers with mgr.
func Setup(ctx context.Context, mgr ctrl.Manager, opts Options) error {
	if opts.GatewayImage == "" {
		return errors.New("a gateway image is required")
	}
	env, err := expr.NewCompiler()
	if err != nil {
		return err
	}
	if err := indexEnvironmentReferences(ctx, mgr); err != nil {
		return fmt.Errorf("field indexes: %w", err)
	}
	environments := &EnvironmentReconciler{
		Client:       mgr.GetClient(),
		APIReader:    mgr.GetAPIReader(),
		Recorder:     mgr.GetEventRecorder("appapi-environment"),
		GatewayImage: opts.GatewayImage,
		Expr:         env,
	}
	if err := environments.SetupWithManager(mgr); err != nil {
		return fmt.Errorf("environment controller: %w", err)
	}
	tokens := &ApiTokenReconciler{Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Recorder: mgr.GetEventRecorder("appapi-apitoken")}
	if err := tokens.SetupWithManager(mgr); err != nil {
		return fmt.Errorf("apitoken controller: %w", err)
	}
	return nil
}
