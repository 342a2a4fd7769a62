package store

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/appapi-dev/appapi/internal/snapshot"
)

// published writes s through a Writer, as the controller does.
func published(t *testing.T, s *snapshot.Snapshot) *memoryObjects {
	t.Helper()
	objects := newMemoryObjects()
	if err := testWriter(objects).Write(context.Background(), encode(t, s)); err != nil {
		t.Fatal(err)
	}
	return objects
}

func TestReadWhatWasWritten(t *testing.T) {
	want := testSnapshot()
	got, err := NewReader(published(t, want), "prod").Read(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// What a Reader returns the credentials Secret names.
	want.Bound = true
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("read back another snapshot (-want +got):\n%s", diff)
	}
}

func TestReadReusesDecodedShards(t *testing.T) {
	s := testSnapshot()
	objects := published(t, s)
	r := NewReader(objects, "prod")
	ctx := context.Background()
	if _, err := r.Read(ctx); err != nil {
		t.Fatal(err)
	}
	// A variables edit rewrites the index only.
	s.Variables["region"] = "us"
	if err := testWriter(objects).Write(ctx, encode(t, s)); err != nil {
		t.Fatal(err)
	}
	objects.calls = nil
	got, err := r.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got.Variables["region"] != "us" || len(got.Routes) != 2 {
		t.Fatalf("read variables %v and %d routes", got.Variables, len(got.Routes))
	}
	want := []string{"get " + snapshot.IndexName("prod"), "get " + snapshot.CredentialsName("prod")}
	if !cmp.Equal(objects.calls, want) {
		t.Fatalf("second read made calls %q, want %q: the shard is unchanged", objects.calls, want)
	}
}

func TestReadRefusesWhatIsNotOneSnapshot(t *testing.T) {
	shard := snapshot.ShardName("prod", 0)
	tests := []struct {
		name   string
		mutate func(t *testing.T, objects *memoryObjects)
		want   error
	}{
		{name: "nothing published", want: ErrNotPublished, mutate: func(_ *testing.T, o *memoryObjects) {
			delete(o.configMaps, snapshot.IndexName("prod"))
		}},
		{name: "no credentials", want: ErrNotPublished, mutate: func(_ *testing.T, o *memoryObjects) {
			delete(o.secrets, snapshot.CredentialsName("prod"))
		}},
		{name: "shard missing", want: snapshot.ErrShardMismatch, mutate: func(_ *testing.T, o *memoryObjects) {
			delete(o.configMaps, shard)
		}},
		{name: "a newer shard under the old index", want: snapshot.ErrShardMismatch, mutate: func(t *testing.T, o *memoryObjects) {
			newer := testSnapshot()
			newer.Routes[0].Path = "/changed"
			o.configMaps[shard].BinaryData[snapshot.ShardKey] = encode(t, newer).Shards[0]
		}},
		{name: "an index the credentials do not name", want: ErrNotBound, mutate: func(t *testing.T, o *memoryObjects) {
			// A ConfigMap writer's own index: valid shard digests, a
			// route returning the secrets, a generation far ahead.
			forged := testSnapshot()
			forged.Generation = 1 << 40
			forged.Routes[1].Response.Body = "secrets"
			enc := encode(t, forged)
			for i, data := range enc.Shards {
				o.configMaps[snapshot.ShardName("prod", i)].BinaryData[snapshot.ShardKey] = data
			}
			o.configMaps[snapshot.IndexName("prod")].Data[snapshot.IndexKey] = string(enc.Index)
		}},
		{name: "the index rewritten with other spacing", want: ErrNotBound, mutate: func(_ *testing.T, o *memoryObjects) {
			cm := o.configMaps[snapshot.IndexName("prod")]
			cm.Data[snapshot.IndexKey] += "\n"
		}},
		{name: "credentials of an older manager, without a digest", want: ErrNotBound, mutate: func(_ *testing.T, o *memoryObjects) {
			delete(o.secrets[snapshot.CredentialsName("prod")].Data, snapshot.IndexDigestKey)
		}},
		{name: "index of another version", want: ErrUnreadable, mutate: func(_ *testing.T, o *memoryObjects) {
			o.configMaps[snapshot.IndexName("prod")].Data[snapshot.IndexKey] = `{"version":"appapi.dev/snapshot/v0"}`
		}},
		{name: "credentials do not parse", want: ErrUnreadable, mutate: func(_ *testing.T, o *memoryObjects) {
			o.secrets[snapshot.CredentialsName("prod")].Data[snapshot.CredentialsKey] = []byte(`{"secrets":{"apiKey":"s3cret-value"`)
		}},
		{name: "snapshot does not validate", want: ErrUnreadable, mutate: func(t *testing.T, o *memoryObjects) {
			invalid := testSnapshot()
			invalid.Settings.MaxRequestBytes = 0
			if err := testWriter(o).Write(context.Background(), encode(t, invalid)); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			objects := published(t, testSnapshot())
			tt.mutate(t, objects)
			_, err := NewReader(objects, "prod").Read(context.Background())
			if !errors.Is(err, tt.want) {
				t.Fatalf("Read() = %v, want %v", err, tt.want)
			}
			if errors.Is(tt.want, ErrNotPublished) && !apierrors.IsNotFound(err) {
				t.Errorf("Read() = %v, want the API server's NotFound kept", err)
			}
			if (errors.Is(tt.want, snapshot.ErrShardMismatch) || errors.Is(tt.want, ErrNotBound)) && !errors.Is(err, ErrUnreadable) {
				t.Errorf("Read() = %v, want it ErrUnreadable too", err)
			}
			if strings.Contains(err.Error(), "s3cret-value") {
				t.Errorf("Read() = %v quotes a secret value", err)
			}
		})
	}
}

func TestReadPassesOnTheAPIServersErrors(t *testing.T) {
	objects := published(t, testSnapshot())
	objects.fail = apierrors.NewServiceUnavailable("the API server is restarting")
	_, err := NewReader(objects, "prod").Read(context.Background())
	if !apierrors.IsServiceUnavailable(err) || errors.Is(err, ErrUnreadable) || errors.Is(err, ErrNotPublished) {
		t.Fatalf("Read() = %v, want the API server's error, worth retrying", err)
	}
}

// TestReadFollowsTheCredentialsDigest: between the manager's write of the
// credentials and of the index, the reader serves nothing new; once the
// index arrives it serves it, and a restore to a lower generation is bound
// like any other publish.
func TestReadFollowsTheCredentialsDigest(t *testing.T) {
	ctx := context.Background()
	first := testSnapshot()
	first.Generation = 5
	objects := published(t, first)
	r := NewReader(objects, "prod")
	if _, err := r.Read(ctx); err != nil {
		t.Fatal(err)
	}
	restored := testSnapshot()
	restored.Generation = 2
	restored.Routes[0].Path = "/restored"
	enc := encode(t, restored)
	// The manager got as far as the credentials.
	index := objects.configMaps[snapshot.IndexName("prod")].Data[snapshot.IndexKey]
	if err := testWriter(objects).Write(ctx, enc); err != nil {
		t.Fatal(err)
	}
	objects.configMaps[snapshot.IndexName("prod")].Data[snapshot.IndexKey] = index
	if _, err := r.Read(ctx); !errors.Is(err, ErrNotBound) {
		t.Fatalf("Read() between the two writes = %v, want ErrNotBound", err)
	}
	objects.configMaps[snapshot.IndexName("prod")].Data[snapshot.IndexKey] = string(enc.Index)
	got, err := r.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Bound || got.Generation != 2 || got.Routes[0].Path != "/restored" {
		t.Fatalf("read generation %d, bound %t, path %s; want the restored generation 2, bound", got.Generation, got.Bound, got.Routes[0].Path)
	}
}
