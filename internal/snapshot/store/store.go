// Package store reads and writes the Kubernetes objects a snapshot is
// published in (see snapshot.Encode): the index ConfigMap, the shard
// ConfigMaps and the credentials Secret of one Environment. The manager
// writes them with a Writer; the manager, the gateway's cluster mode and
// the tests read them with a Reader, so that all three read them the same
// way. Both work through a small interface over the objects, by name, which
// each caller implements with its own client.
package store

import (
	"context"
	"errors"

	corev1 "k8s.io/api/core/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
)

// Getter gets the objects of one Environment's snapshot, by name, from the
// Environment's namespace. A missing object is an error for which
// apierrors.IsNotFound is true, as the API server reports it.
type Getter interface {
	GetConfigMap(ctx context.Context, name string) (*corev1.ConfigMap, error)
	GetSecret(ctx context.Context, name string) (*corev1.Secret, error)
}

// Objects also writes them: a server-side apply creates or updates an
// object, and stale shards are deleted.
type Objects interface {
	Getter
	ApplyConfigMap(ctx context.Context, cm *corev1ac.ConfigMapApplyConfiguration) error
	ApplySecret(ctx context.Context, secret *corev1ac.SecretApplyConfiguration) error
	DeleteConfigMap(ctx context.Context, name string) error
}

// ErrNotPublished says the index or the credentials Secret does not exist:
// nothing was published yet, or it was deleted.
var ErrNotPublished = errors.New("snapshot not published")

// ErrUnreadable says the published objects exist but do not hold a snapshot
// a reader accepts: a shard that does not match the index (yet), data that
// does not decode, a snapshot that fails Validate. Unlike an error of the
// API server, reading again helps only once the objects are rewritten.
var ErrUnreadable = errors.New("published snapshot is unreadable")

// ErrNotBound says the index is not the one the credentials Secret names:
// the manager is between writing the Secret and the index (the index's
// update comes next), or someone else wrote the index. It is also
// ErrUnreadable.
var ErrNotBound = errors.New("the snapshot index is not the one the credentials Secret names")

// unreadable marks err as ErrUnreadable and keeps its message, which callers
// log as it is.
type unreadable struct{ error }

func (e unreadable) Unwrap() error { return e.error }

func (unreadable) Is(target error) bool { return target == ErrUnreadable }
