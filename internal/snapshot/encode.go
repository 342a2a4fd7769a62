package snapshot

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// How a snapshot is laid out in Kubernetes objects. The object names are
// fixed per Environment so that the gateway's Role can name exactly the
// objects it may read.
const (
	// IndexKey holds the Index in the index ConfigMap.
	IndexKey = "snapshot.json"
	// ShardKey holds gzip-compressed JSON routes in each shard ConfigMap's binaryData.
	ShardKey = "routes.json.gz"
	// CredentialsKey holds the Credentials JSON in the credentials Secret.
	CredentialsKey = "credentials.json"
	// IndexDigestKey holds, in the credentials Secret, the IndexDigest of
	// the index the manager published with these credentials. A reader
	// serves an index only when it matches: whoever can write ConfigMaps
	// but not Secrets cannot make a gateway serve an index of their own.
	IndexDigestKey = "index.sha256"
	// GenerationKey holds, in the credentials Secret, the generation of that
	// index in decimal: the manager numbers on from it after a restart,
	// since the index's own generation may have been written by anyone who
	// can write ConfigMaps.
	GenerationKey = "generation"

	// MaxShards bounds the shard ConfigMaps of one Environment.
	MaxShards = 32
	// MaxShardBytes keeps a compressed shard well under the API server's
	// 1 MiB object limit, leaving room for metadata.
	MaxShardBytes = 768 << 10
	// MaxCredentialsBytes is the same limit for the credentials Secret.
	MaxCredentialsBytes = 960 << 10

	// LabelEnvironment marks every object published for an Environment.
	LabelEnvironment = "appapi.dev/environment"
)

// IndexName is the ConfigMap that names the snapshot's current shards.
func IndexName(environment string) string { return "appapi-" + environment + "-snapshot" }

// ShardName is the ConfigMap that holds shard i of the routes.
func ShardName(environment string, i int) string {
	return IndexName(environment) + "-" + strconv.Itoa(i)
}

// CredentialsName is the Secret that holds token hashes and secret values.
func CredentialsName(environment string) string { return "appapi-" + environment + "-credentials" }

// ErrTooLarge says the snapshot does not fit in MaxShards shards or the credentials Secret.
var ErrTooLarge = errors.New("snapshot too large")

// Index is the content of the index ConfigMap: everything but the routes
// and credentials, plus a digest of each shard. A gateway loads a
// snapshot only when every shard it reads matches its digest, so a snapshot
// whose shards are still being written is never half-loaded.
type Index struct {
	Header
	Shards []ShardRef `json:"shards"`
	// Digest is the IndexDigest of the bytes this index was decoded from.
	Digest string `json:"-"`
}

// IndexDigest is the lower-case hex SHA-256 of an index's exact bytes, as
// the credentials Secret names it. A plain hash is enough, not an HMAC:
// the digest lives in the Secret, so only those who can write that Secret
// (and could change the credentials anyway) can name another index.
func IndexDigest(index []byte) string {
	sum := sha256.Sum256(index)
	return hex.EncodeToString(sum[:])
}

// ShardRef names one shard and the SHA-256 of its compressed bytes.
type ShardRef struct {
	Name   string `json:"name"`
	SHA256 string `json:"sha256"`
	Routes int    `json:"routes"`
}

// Encoded is a snapshot ready to be written.
type Encoded struct {
	// Index is the JSON for the index ConfigMap.
	Index []byte
	// Shards[i] is the binary data for ShardName(environment, i).
	Shards [][]byte
	// Credentials is the JSON for the credentials Secret.
	Credentials []byte
	// Generation is the generation Index holds.
	Generation int64

	refs []ShardRef
}

// Encode lays the snapshot out as objects. Routes are spread over shards by
// a hash of their name, so an edit rewrites one shard, and the shard count
// doubles until every compressed shard fits.
func Encode(s *Snapshot) (*Encoded, error) { return encode(s, nil, nil) }

// encode is Encode, taking from last, the encoding of the snapshot lastRoutes
// came from, every shard whose routes did not change instead of compressing
// it again: at 10,000 routes compressing is most of the cost of an edit. The
// result is what Encode would return.
func encode(s *Snapshot, lastRoutes []Route, last *Encoded) (*Encoded, error) {
	for n := 1; n <= MaxShards; n *= 2 {
		parts := splitRoutes(s.Routes, n)
		var lastParts [][]*Route
		if last != nil && len(last.Shards) == n {
			lastParts = splitRoutes(lastRoutes, n)
		}
		out := &Encoded{refs: make([]ShardRef, n)}
		fits := true
		for i, part := range parts {
			ref := ShardRef{Name: ShardName(s.Environment, i), Routes: len(part)}
			var data []byte
			if lastParts != nil && reflect.DeepEqual(part, lastParts[i]) {
				data, ref.SHA256 = last.Shards[i], last.refs[i].SHA256
			} else {
				var err error
				if data, fits, err = encodeShard(part); err != nil {
					return nil, err
				}
				if !fits {
					break
				}
				sum := sha256.Sum256(data)
				ref.SHA256 = hex.EncodeToString(sum[:])
			}
			out.refs[i] = ref
			out.Shards = append(out.Shards, data)
		}
		if fits {
			return out, out.SetGeneration(s)
		}
	}
	return nil, fmt.Errorf("%w: %d routes do not fit in %d shards of %d bytes", ErrTooLarge, len(s.Routes), MaxShards, MaxShardBytes)
}

// SetGeneration re-encodes the index and credentials for s, whose routes
// must be the ones e was encoded from. The shards do not hold the
// generation, so a publisher that compared an encoding with the previous one
// can number it without compressing every route again.
func (e *Encoded) SetGeneration(s *Snapshot) error {
	// The credentials carry no generation: the Secret changes only when a
	// token or secret value does, so route edits do not rewrite it (nor
	// wake everything that watches it).
	creds, err := json.Marshal(s.Credentials)
	if err != nil {
		return err
	}
	if len(creds) > MaxCredentialsBytes {
		return fmt.Errorf("%w: credentials take %d bytes, more than the %d a Secret can hold; remove unused ApiTokens", ErrTooLarge, len(creds), MaxCredentialsBytes)
	}
	index, err := json.Marshal(Index{Header: s.Header, Shards: e.refs})
	if err != nil {
		return err
	}
	e.Index, e.Credentials, e.Generation = index, creds, s.Generation
	return nil
}

// splitRoutes spreads routes over n shards, each sorted by name. The shards
// point into routes rather than copy them: at 10,000 routes, copying and
// sorting the structs cost more than encoding the one shard an edit changes.
func splitRoutes(routes []Route, n int) [][]*Route {
	parts := make([][]*Route, n)
	for i := range parts {
		parts[i] = []*Route{}
	}
	for i := range routes {
		j := shardOf(routes[i].Name, n)
		parts[j] = append(parts[j], &routes[i])
	}
	byName := func(a, b *Route) int { return strings.Compare(a.Name, b.Name) }
	for _, part := range parts {
		// The translator sorts its routes already, and so their shards.
		if !slices.IsSortedFunc(part, byName) {
			slices.SortFunc(part, byName)
		}
	}
	return parts
}

// encodeShard compresses the JSON array of routes, one route at a time so
// that a shard that cannot fit is given up as soon as its compressed bytes
// pass MaxShardBytes: the shard count only doubles when one does not fit.
// Writing the array element by element gives the bytes json.Encoder would.
func encodeShard(routes []*Route) (data []byte, fits bool, err error) {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	if err != nil {
		return nil, false, err
	}
	sep := []byte("[")
	for i := range routes {
		text, err := json.Marshal(routes[i])
		if err != nil {
			return nil, false, err
		}
		if _, err := zw.Write(sep); err != nil {
			return nil, false, err
		}
		if _, err := zw.Write(text); err != nil {
			return nil, false, err
		}
		if buf.Len() > MaxShardBytes {
			return nil, false, nil
		}
		sep = []byte(",")
	}
	end := "]\n"
	if len(routes) == 0 {
		end = "[]\n"
	}
	if _, err := io.WriteString(zw, end); err != nil {
		return nil, false, err
	}
	if err := zw.Close(); err != nil {
		return nil, false, err
	}
	if buf.Len() > MaxShardBytes {
		return nil, false, nil
	}
	return buf.Bytes(), true, nil
}

func shardOf(name string, n int) int {
	h := fnv.New32a()
	_, _ = h.Write([]byte(name))
	return int(h.Sum32() % uint32(n))
}

// DecodeIndex parses an index ConfigMap's JSON.
func DecodeIndex(data []byte) (*Index, error) {
	var idx Index
	if err := json.Unmarshal(data, &idx); err != nil {
		return nil, fmt.Errorf("index: %w", err)
	}
	if idx.Version != Version {
		return nil, fmt.Errorf("index: version %q is not %q", idx.Version, Version)
	}
	idx.Digest = IndexDigest(data)
	return &idx, nil
}

// ErrShardMismatch says a shard is missing or does not match the index yet;
// the caller waits for the next update instead of loading a mix of snapshots.
var ErrShardMismatch = errors.New("shard does not match the index")

// DecodeShard checks one shard's data against its reference and decodes it.
func DecodeShard(ref ShardRef, data []byte) ([]Route, error) {
	sum := sha256.Sum256(data)
	if hex.EncodeToString(sum[:]) != ref.SHA256 {
		return nil, fmt.Errorf("%w: %s has other content", ErrShardMismatch, ref.Name)
	}
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("shard %s: %w", ref.Name, err)
	}
	var part []Route
	if err := json.NewDecoder(io.LimitReader(zr, 64<<20)).Decode(&part); err != nil {
		return nil, fmt.Errorf("shard %s: %w", ref.Name, err)
	}
	return part, nil
}

// SortRoutes puts routes in the snapshot's order: by name.
func SortRoutes(routes []Route) {
	slices.SortFunc(routes, func(a, b Route) int { return strings.Compare(a.Name, b.Name) })
}

// DecodeCredentials parses the credentials Secret's JSON.
func DecodeCredentials(data []byte) (Credentials, error) {
	var c Credentials
	if err := json.Unmarshal(data, &c); err != nil {
		// The decoder's error may quote the input, which holds secrets.
		return Credentials{}, errors.New("credentials: not valid JSON")
	}
	return c, nil
}
