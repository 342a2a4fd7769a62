package store

import (
	"context"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/appapi-dev/appapi/internal/snapshot"
)

func encode(t *testing.T, s *snapshot.Snapshot) *snapshot.Encoded {
	t.Helper()
	enc, err := snapshot.Encode(s)
	if err != nil {
		t.Fatal(err)
	}
	return enc
}

func TestWriteOrderShapesAndStaleShards(t *testing.T) {
	objects := newMemoryObjects()
	// Left by an older snapshot of more shards.
	leftover := snapshot.ShardName("prod", 5)
	objects.configMaps[leftover] = &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: leftover}}

	if err := testWriter(objects).Write(context.Background(), encode(t, testSnapshot())); err != nil {
		t.Fatal(err)
	}
	shard, creds, index := snapshot.ShardName("prod", 0), snapshot.CredentialsName("prod"), snapshot.IndexName("prod")
	applied := writesIn(objects.calls)
	want := []string{"apply " + shard, "apply " + creds, "apply " + index, "delete " + leftover}
	if !slices.Equal(applied, want) {
		t.Fatalf("writes %q, want %q: shards, credentials, index, then stale shards", applied, want)
	}

	cm := objects.configMaps[shard]
	if cm.Namespace != "shop" || cm.Labels["component"] != "snapshot" || len(cm.Data) != 0 || len(cm.BinaryData[snapshot.ShardKey]) == 0 {
		t.Errorf("shard = %+v", cm)
	}
	if ref := metav1.GetControllerOf(cm); ref == nil || ref.UID != "env-uid" || ref.Kind != "Environment" {
		t.Errorf("shard controller = %+v, want the Environment", ref)
	}
	if idx := objects.configMaps[index]; idx.Labels["component"] != "snapshot" || len(idx.BinaryData) != 0 || idx.Data[snapshot.IndexKey] == "" {
		t.Errorf("index = %+v", idx)
	}
	if s := objects.secrets[creds]; s.Type != corev1.SecretTypeOpaque || s.Labels["component"] != "credentials" || len(s.Data) != 3 || string(s.Data[snapshot.GenerationKey]) != "1" {
		t.Errorf("credentials = type %s labels %v keys %d", s.Type, s.Labels, len(s.Data))
	}
	named, written := string(objects.secrets[creds].Data[snapshot.IndexDigestKey]), snapshot.IndexDigest([]byte(objects.configMaps[index].Data[snapshot.IndexKey]))
	if named != written {
		t.Errorf("credentials name index %q, want the written index's digest %q", named, written)
	}
}

func TestWriteOnlyWhatDiffers(t *testing.T) {
	objects := newMemoryObjects()
	w := testWriter(objects)
	ctx := context.Background()
	s := testSnapshot()
	if err := w.Write(ctx, encode(t, s)); err != nil {
		t.Fatal(err)
	}

	objects.calls = nil
	if err := w.Write(ctx, encode(t, s)); err != nil {
		t.Fatal(err)
	}
	if writes := writesIn(objects.calls); len(writes) != 0 {
		t.Errorf("an unchanged snapshot wrote %q", writes)
	}

	s.Variables["region"] = "us"
	objects.calls = nil
	if err := w.Write(ctx, encode(t, s)); err != nil {
		t.Fatal(err)
	}
	// The credentials name the new index, so they are written before it.
	if writes, want := writesIn(objects.calls), []string{"apply " + snapshot.CredentialsName("prod"), "apply " + snapshot.IndexName("prod")}; !slices.Equal(writes, want) {
		t.Errorf("a variables edit wrote %q, want %q", writes, want)
	}

	// Edited data and another controller are both reverted.
	objects.configMaps[snapshot.IndexName("prod")].Data[snapshot.IndexKey] = `{"version":"tampered"}`
	objects.secrets[snapshot.CredentialsName("prod")].OwnerReferences = stale
	objects.calls = nil
	if err := w.Write(ctx, encode(t, s)); err != nil {
		t.Fatal(err)
	}
	want := []string{"apply " + snapshot.CredentialsName("prod"), "apply " + snapshot.IndexName("prod")}
	if writes := writesIn(objects.calls); !slices.Equal(writes, want) {
		t.Errorf("after edits Write wrote %q, want %q", writes, want)
	}
}

func writesIn(calls []string) []string {
	return slices.DeleteFunc(slices.Clone(calls), func(c string) bool { return c[:4] == "get " })
}
