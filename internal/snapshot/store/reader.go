package store

import (
	"context"
	"fmt"
	"slices"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/appapi-dev/appapi/internal/snapshot"
)

// Reader reads the snapshot one Environment published. It loads an index
// only when the credentials Secret names it (see snapshot.IndexDigestKey),
// and routes only when every shard matches the digest the index gives it,
// so it never returns half of one snapshot and half of another, nor an
// index written by anyone who cannot write the Secret. It is not safe for
// concurrent use.
type Reader struct {
	objects     Getter
	environment string
	// shards caches decoded shards by digest: an edit rewrites one shard, so
	// a reader that reads again fetches one.
	shards map[string][]snapshot.Route
	// routes are the routes last read, from the shards refs names. Nobody
	// writes to a snapshot's routes once it is read.
	routes []snapshot.Route
	refs   []snapshot.ShardRef
}

// NewReader reads environment's snapshot through objects.
func NewReader(objects Getter, environment string) *Reader {
	return &Reader{objects: objects, environment: environment, shards: map[string][]snapshot.Route{}}
}

// Read reads the index and then the snapshot it describes.
func (r *Reader) Read(ctx context.Context) (*snapshot.Snapshot, error) {
	idx, err := r.ReadIndex(ctx)
	if err != nil {
		return nil, err
	}
	return r.ReadSnapshot(ctx, idx)
}

// ReadIndex reads and decodes the index ConfigMap.
func (r *Reader) ReadIndex(ctx context.Context) (*snapshot.Index, error) {
	name := snapshot.IndexName(r.environment)
	cm, err := r.objects.GetConfigMap(ctx, name)
	if apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("%w: %w", ErrNotPublished, err)
	}
	if err != nil {
		return nil, fmt.Errorf("read ConfigMap %s: %w", name, err)
	}
	idx, err := snapshot.DecodeIndex([]byte(cm.Data[snapshot.IndexKey]))
	if err != nil {
		return nil, unreadable{err}
	}
	return idx, nil
}

// ReadSnapshot reads the credentials and, when they name idx, the shards
// idx names, and returns the snapshot they make once it validates. An index
// the credentials do not name is ErrNotBound: it is not read further.
func (r *Reader) ReadSnapshot(ctx context.Context, idx *snapshot.Index) (*snapshot.Snapshot, error) {
	secret, err := r.credentialsSecret(ctx)
	if err != nil {
		return nil, err
	}
	if err := checkBound(idx, secret); err != nil {
		return nil, err
	}
	routes, err := r.readRoutes(ctx, idx)
	if err != nil {
		return nil, err
	}
	creds, err := snapshot.DecodeCredentials(secret.Data[snapshot.CredentialsKey])
	if err != nil {
		return nil, unreadable{err}
	}
	s, err := snapshot.Assemble(idx.Header, routes, creds)
	if err != nil {
		return nil, unreadable{err}
	}
	s.Bound = true
	return s, nil
}

// checkBound says whether digest, from the credentials Secret, names idx.
// A Secret without a digest, as a manager older than this reader wrote
// it, names no index: a reader cannot tell its index from one written by
// anyone who may write ConfigMaps, so it serves neither until the manager
// rewrites the Secret.
func checkBound(idx *snapshot.Index, secret *corev1.Secret) error {
	generation, err := boundGeneration(secret)
	switch {
	case err != nil:
		return err
	case string(secret.Data[snapshot.IndexDigestKey]) != idx.Digest:
		return unreadable{fmt.Errorf("%w: the credentials Secret names another index than this one of generation %d", ErrNotBound, idx.Generation)}
	case generation != idx.Generation:
		// Only a Secret written by hand gets here: the digest covers the
		// index's generation.
		return unreadable{fmt.Errorf("%w: the credentials Secret names generation %d, the index holds %d", ErrNotBound, generation, idx.Generation)}
	}
	return nil
}

// BoundGeneration is the generation the credentials Secret names: that of
// the last index the manager published, or was about to publish. Unlike the
// index's own, only those who can write the Secret can set it.
func (r *Reader) BoundGeneration(ctx context.Context) (int64, error) {
	secret, err := r.credentialsSecret(ctx)
	if err != nil {
		return 0, err
	}
	return boundGeneration(secret)
}

func boundGeneration(secret *corev1.Secret) (int64, error) {
	if len(secret.Data[snapshot.IndexDigestKey]) == 0 {
		return 0, unreadable{fmt.Errorf("%w: the credentials Secret names no index (written by an older manager?)", ErrNotBound)}
	}
	generation, err := strconv.ParseInt(string(secret.Data[snapshot.GenerationKey]), 10, 64)
	if err != nil || generation < 1 {
		return 0, unreadable{fmt.Errorf("%w: the credentials Secret names no valid generation", ErrNotBound)}
	}
	return generation, nil
}

// readRoutes fetches the shards idx names, reusing those already decoded.
func (r *Reader) readRoutes(ctx context.Context, idx *snapshot.Index) ([]snapshot.Route, error) {
	// A token or secret change publishes the same shards: return the very
	// slice returned last, which tells the gateway that no route changed
	// without comparing 10,000 of them (see server.compileConfig).
	if r.routes != nil && slices.Equal(idx.Shards, r.refs) {
		return r.routes, nil
	}
	var routes []snapshot.Route
	keep := map[string][]snapshot.Route{}
	for _, ref := range idx.Shards {
		part, ok := r.shards[ref.SHA256]
		if !ok {
			cm, err := r.objects.GetConfigMap(ctx, ref.Name)
			if apierrors.IsNotFound(err) {
				return nil, unreadable{fmt.Errorf("%w: %s is missing", snapshot.ErrShardMismatch, ref.Name)}
			}
			if err != nil {
				return nil, fmt.Errorf("read ConfigMap %s: %w", ref.Name, err)
			}
			if part, err = snapshot.DecodeShard(ref, cm.BinaryData[snapshot.ShardKey]); err != nil {
				return nil, unreadable{err}
			}
		}
		keep[ref.SHA256] = part
		routes = append(routes, part...)
	}
	r.shards = keep
	snapshot.SortRoutes(routes)
	r.routes, r.refs = routes, slices.Clone(idx.Shards)
	return routes, nil
}

// ReadCredentials reads the credentials Secret. Its errors never quote the
// Secret's data.
func (r *Reader) ReadCredentials(ctx context.Context) (snapshot.Credentials, error) {
	secret, err := r.credentialsSecret(ctx)
	if err != nil {
		return snapshot.Credentials{}, err
	}
	creds, err := snapshot.DecodeCredentials(secret.Data[snapshot.CredentialsKey])
	if err != nil {
		return snapshot.Credentials{}, unreadable{err}
	}
	return creds, nil
}

func (r *Reader) credentialsSecret(ctx context.Context) (*corev1.Secret, error) {
	name := snapshot.CredentialsName(r.environment)
	secret, err := r.objects.GetSecret(ctx, name)
	if apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("%w: %w", ErrNotPublished, err)
	}
	if err != nil {
		// The API server's error names the Secret, never its data.
		return nil, fmt.Errorf("read Secret %s: %w", name, err)
	}
	return secret, nil
}
