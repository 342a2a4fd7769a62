package store

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/appapi-dev/appapi/internal/snapshot"
)

// Reader reads the snapshot one Environment published. It loads routes only
// when every shard matches the digest the index gives it, so it never
// returns half of one snapshot and half of another. It is not safe for
// concurrent use.
type Reader struct {
	objects     Getter
	environment string
	// shards caches decoded shards by digest: an edit rewrites one shard, so
	// a reader that reads again fetches one.
	shards map[string][]snapshot.Route
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

// ReadSnapshot reads the shards idx names and the credentials, and returns
// the snapshot they make once it validates.
func (r *Reader) ReadSnapshot(ctx context.Context, idx *snapshot.Index) (*snapshot.Snapshot, error) {
	routes, err := r.readRoutes(ctx, idx)
	if err != nil {
		return nil, err
	}
	creds, err := r.ReadCredentials(ctx)
	if err != nil {
		return nil, err
	}
	s, err := snapshot.Assemble(idx.Header, routes, creds)
	if err != nil {
		return nil, unreadable{err}
	}
	return s, nil
}

// readRoutes fetches the shards idx names, reusing those already decoded.
func (r *Reader) readRoutes(ctx context.Context, idx *snapshot.Index) ([]snapshot.Route, error) {
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
	return routes, nil
}

// ReadCredentials reads the credentials Secret. Its errors never quote the
// Secret's data.
func (r *Reader) ReadCredentials(ctx context.Context) (snapshot.Credentials, error) {
	name := snapshot.CredentialsName(r.environment)
	secret, err := r.objects.GetSecret(ctx, name)
	if apierrors.IsNotFound(err) {
		return snapshot.Credentials{}, fmt.Errorf("%w: %w", ErrNotPublished, err)
	}
	if err != nil {
		// The API server's error names the Secret, never its data.
		return snapshot.Credentials{}, fmt.Errorf("read Secret %s: %w", name, err)
	}
	creds, err := snapshot.DecodeCredentials(secret.Data[snapshot.CredentialsKey])
	if err != nil {
		return snapshot.Credentials{}, unreadable{err}
	}
	return creds, nil
}
