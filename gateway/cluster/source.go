// Package cluster feeds a gateway from its Environment's snapshot objects
// in the API server. It watches exactly two objects, the snapshot index and
// the credentials Secret, and reads shards by name, which is all the
// gateway's Role allows.
package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"github.com/appapi-dev/appapi/internal/snapshot"
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

	// shards caches decoded shards by digest: an edit rewrites one shard,
	// so a reload fetches one.
	shards map[string][]snapshot.Route
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
	s.shards = map[string][]snapshot.Route{}
	changed := make(chan struct{}, 1)
	notify := func() {
		select {
		case changed <- struct{}{}:
		default:
		}
	}
	indexes := s.informer(ctx, &corev1.ConfigMap{}, snapshot.IndexName(s.Environment), notify)
	secrets := s.informer(ctx, &corev1.Secret{}, snapshot.CredentialsName(s.Environment), notify)
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
		err := s.sync(ctx, indexes, secrets)
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

func (s *Source) sync(ctx context.Context, indexes, secrets cache.Store) error {
	index, ok := get[*corev1.ConfigMap](indexes, s.Namespace, snapshot.IndexName(s.Environment))
	if !ok {
		return errors.New("the snapshot index does not exist yet")
	}
	creds, ok := get[*corev1.Secret](secrets, s.Namespace, snapshot.CredentialsName(s.Environment))
	if !ok {
		return errors.New("the credentials Secret does not exist yet")
	}
	versions := [2]string{index.ResourceVersion, creds.ResourceVersion}
	if s.loaded != nil && versions == *s.loaded {
		return nil
	}
	idx, err := snapshot.DecodeIndex([]byte(index.Data[snapshot.IndexKey]))
	if err != nil {
		return err
	}
	routes, err := s.routes(ctx, idx)
	if err != nil {
		return err
	}
	credentials, err := snapshot.DecodeCredentials(creds.Data[snapshot.CredentialsKey])
	if err != nil {
		return err
	}
	snap, err := snapshot.Assemble(idx, routes, credentials)
	if err != nil {
		return err
	}
	if err := s.Load(snap); err != nil {
		return err
	}
	s.loaded = &versions
	return nil
}

// routes fetches the shards the index names, reusing those already decoded.
func (s *Source) routes(ctx context.Context, idx *snapshot.Index) ([]snapshot.Route, error) {
	var routes []snapshot.Route
	keep := map[string][]snapshot.Route{}
	for _, ref := range idx.Shards {
		part, ok := s.shards[ref.SHA256]
		if !ok {
			cm, err := s.Client.CoreV1().ConfigMaps(s.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				return nil, fmt.Errorf("%w: %s is missing", snapshot.ErrShardMismatch, ref.Name)
			}
			if err != nil {
				return nil, fmt.Errorf("read shard %s: %w", ref.Name, err)
			}
			if part, err = snapshot.DecodeShard(ref, cm.BinaryData[snapshot.ShardKey]); err != nil {
				return nil, err
			}
		}
		keep[ref.SHA256] = part
		routes = append(routes, part...)
	}
	s.shards = keep
	snapshot.SortRoutes(routes)
	return routes, nil
}

func get[T any](store cache.Store, namespace, name string) (T, bool) {
	var zero T
	item, exists, err := store.GetByKey(namespace + "/" + name)
	if err != nil || !exists {
		return zero, false
	}
	v, ok := item.(T)
	return v, ok
}
