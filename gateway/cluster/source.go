// Package cluster feeds a gateway from its Environment's snapshot objects
// in the API server. It watches exactly two objects, the snapshot index and
// the credentials Secret, and reads shards by name, which is all the
// gateway's Role allows.
package cluster

import (
	"context"
	"errors"
	"log/slog"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"github.com/appapi-dev/appapi/internal/snapshot"
	"github.com/appapi-dev/appapi/internal/snapshot/store"
)

// Source loads every new snapshot of one Environment into Load. When the API
// server cannot be reached, or a snapshot does not validate, nothing is
// loaded and the gateway keeps serving the last good snapshot.
type Source struct {
	Client      kubernetes.Interface
	Namespace   string
	Environment string
	Load        func(*snapshot.Snapshot) error
	Log         *slog.Logger
	// RetryDelay is the first wait before retrying a snapshot that could
	// not be loaded; it doubles up to maxRetryDelay. Zero means 250ms.
	RetryDelay time.Duration

	// reader keeps the shards it decoded: an edit rewrites one shard, so a
	// reload fetches one.
	reader *store.Reader
	// loaded are the resource versions behind the served snapshot, once one is.
	loaded *[2]string
}

// Retries of a snapshot that could not be loaded (shards still being
// written, the API server briefly failing) start quickly and back off.
const (
	defaultRetryDelay = 250 * time.Millisecond
	maxRetryDelay     = 10 * time.Second
)

// Run watches until ctx is done.
func (s *Source) Run(ctx context.Context) error {
	changed := make(chan struct{}, 1)
	notify := func() {
		select {
		case changed <- struct{}{}:
		default:
		}
	}
	objects := &watchedObjects{client: s.Client, namespace: s.Namespace, environment: s.Environment,
		index:       s.informer(ctx, &corev1.ConfigMap{}, snapshot.IndexName(s.Environment), notify),
		credentials: s.informer(ctx, &corev1.Secret{}, snapshot.CredentialsName(s.Environment), notify)}
	s.reader = store.NewReader(objects, s.Environment)
	var retry <-chan time.Time
	first := s.RetryDelay
	if first == 0 {
		first = defaultRetryDelay
	}
	delay := first
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-changed:
		case <-retry:
		}
		retry = nil
		err := s.sync(ctx, objects)
		if err == nil {
			delay = first
			continue
		}
		// Every failure is retried: a watch event may never come for a
		// shard read that failed once.
		s.Log.Warn("snapshot not loaded; serving the last good one", "error", err.Error(), "retry_in", delay.String())
		retry = time.After(delay)
		delay = min(2*delay, maxRetryDelay)
	}
}

// informer watches one named object. Watching by name is what a Role with
// resourceNames permits.
func (s *Source) informer(ctx context.Context, obj any, name string, notify func()) cache.Store {
	factory := informers.NewSharedInformerFactoryWithOptions(s.Client, 0,
		informers.WithNamespace(s.Namespace),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.FieldSelector = "metadata.name=" + name }))
	var inf cache.SharedIndexInformer
	switch obj.(type) {
	case *corev1.ConfigMap:
		inf = factory.Core().V1().ConfigMaps().Informer()
	case *corev1.Secret:
		inf = factory.Core().V1().Secrets().Informer()
	}
	_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { notify() },
		UpdateFunc: func(any, any) { notify() },
	})
	factory.Start(ctx.Done())
	return inf.GetStore()
}

// sync loads the snapshot the watched objects describe, unless it is the
// one already loaded.
func (s *Source) sync(ctx context.Context, objects *watchedObjects) error {
	index, err := objects.GetConfigMap(ctx, snapshot.IndexName(s.Environment))
	if err != nil {
		return errors.New("the snapshot index does not exist yet")
	}
	creds, err := objects.GetSecret(ctx, snapshot.CredentialsName(s.Environment))
	if err != nil {
		return errors.New("the credentials Secret does not exist yet")
	}
	versions := [2]string{index.GetResourceVersion(), creds.GetResourceVersion()}
	if s.loaded != nil && versions == *s.loaded {
		return nil
	}
	snap, err := s.reader.Read(ctx)
	if err != nil {
		return err
	}
	if err := s.Load(snap); err != nil {
		return err
	}
	s.loaded = &versions
	return nil
}
