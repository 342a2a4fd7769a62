package cluster

import (
	"context"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/appapi-dev/appapi/api/v1alpha1"
	"github.com/appapi-dev/appapi/internal/snapshot"
)

// TestSourceRetriesAFailedShardRead: one failed read of a shard must not
// leave the gateway on an old snapshot until the next publish. This unit
// test uses client-go's fake clientset to inject the failure; the
// integration suite runs the source against a real API server.
func TestSourceRetriesAFailedShardRead(t *testing.T) {
	snap := &snapshot.Snapshot{Header: snapshot.Header{Version: snapshot.Version, Namespace: "shop", Environment: "prod", Generation: 1, Settings: snapshot.Settings{MaxRequestBytes: 1, RequestTimeout: snapshot.Duration(time.Second)}},
		Routes: []snapshot.Route{{Name: "hello", Method: "GET", Path: "/hello",
			Authentication: v1alpha1.Authentication{Mode: v1alpha1.AuthenticationNone}}}}
	enc, err := snapshot.Encode(snap)
	if err != nil {
		t.Fatal(err)
	}
	objects := []runtime.Object{
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: snapshot.IndexName("prod")},
			Data: map[string]string{snapshot.IndexKey: string(enc.Index)}},
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: snapshot.ShardName("prod", 0)},
			BinaryData: map[string][]byte{snapshot.ShardKey: enc.Shards[0]}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: snapshot.CredentialsName("prod")},
			Data: map[string][]byte{snapshot.CredentialsKey: enc.Credentials, snapshot.IndexDigestKey: []byte(snapshot.IndexDigest(enc.Index)), snapshot.GenerationKey: []byte("1")}},
	}
	client := fake.NewSimpleClientset(objects...)
	// More failures than the watch events that can trigger a read: only
	// retries get past them.
	const failing = 5
	var failures atomic.Int32
	client.PrependReactor("get", "configmaps", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if failures.Add(1) <= failing {
			return true, nil, apierrors.NewServiceUnavailable("the API server is restarting")
		}
		return false, nil, nil
	})
	loaded := make(chan *snapshot.Snapshot, 1)
	src := &Source{Client: client, Namespace: "shop", Environment: "prod", RetryDelay: time.Millisecond,
		Log:  slog.New(slog.NewTextHandler(io.Discard, nil)),
		Load: func(s *snapshot.Snapshot) error { loaded <- s; return nil }}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = src.Run(ctx) }()
	select {
	case s := <-loaded:
		if len(s.Routes) != 1 || failures.Load() <= failing {
			t.Fatalf("loaded %d routes after %d shard reads", len(s.Routes), failures.Load())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("the snapshot was never loaded after a failed shard read (%d reads)", failures.Load())
	}
}
