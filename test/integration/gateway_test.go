// Package integration runs the controllers and a gateway in cluster mode
// against a real kube-apiserver and etcd, and calls the gateway over HTTP.
package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/appapi-dev/appapi/api/v1alpha1"
	"github.com/appapi-dev/appapi/controllers"
	"github.com/appapi-dev/appapi/gateway/cluster"
	"github.com/appapi-dev/appapi/gateway/metrics"
	"github.com/appapi-dev/appapi/gateway/server"
	"github.com/appapi-dev/appapi/internal/testutil"
)

// deadline is generous so that a slow shared machine never fails a test;
// the measured delays are logged, and the benchmarks measure speed.
const deadline = 10 * time.Second

// TestGatewayInClusterMode follows one Environment through its life:
// an AppAPI is applied and answers, an edit changes the answer, a deleted
// token stops working, and with the API server gone the gateway keeps
// serving its last snapshot.
func TestGatewayInClusterMode(t *testing.T) {
	cfg, testEnv := startControlPlane(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	startManager(ctx, t, cfg)
	k8s, err := client.New(cfg, client.Options{Scheme: controllers.NewScheme()})
	if err != nil {
		t.Fatal(err)
	}

	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop"}}
	mustCreate(t, k8s, ns)
	mustCreate(t, k8s, &v1alpha1.Environment{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "prod"}})
	mustCreate(t, k8s, &v1alpha1.ApiToken{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "partner"},
		Spec: v1alpha1.ApiTokenSpec{Environment: "prod"}})
	hello := &v1alpha1.AppAPI{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "hello"},
		Spec: v1alpha1.AppAPISpec{Environment: "prod", Method: "GET", Path: "/hello/{name}",
			Steps:    []v1alpha1.Step{{Name: "greet", Transform: &v1alpha1.TransformOperation{Value: "{'greeting': 'hello ' + request.params.name, 'caller': token.name}"}}},
			Response: v1alpha1.Response{Body: "steps.greet"}}}
	mustCreate(t, k8s, hello)

	// The gateway runs as its ServiceAccount, so the test also shows that
	// the Role the controller gives it is enough, and reads nothing else.
	gatewayCfg := rest.CopyConfig(cfg)
	gatewayCfg.Impersonate = rest.ImpersonationConfig{UserName: "system:serviceaccount:shop:appapi-prod"}
	base := startGateway(ctx, t, gatewayCfg, "shop", "prod")

	token := waitForToken(t, k8s)
	took := poll(t, "the AppAPI answers", func() error {
		return expect(base+"/hello/ada", token, 200, `"greeting":"hello ada"`)
	})
	t.Logf("AppAPI answered %s after the gateway started", took)
	if err := expect(base+"/hello/ada", token, 200, `"caller":"partner"`); err != nil {
		t.Fatal(err)
	}
	if err := expect(base+"/hello/ada", "", 401, "Authorization: Bearer"); err != nil {
		t.Fatal(err)
	}

	editedAt := time.Now()
	if err := k8s.Get(ctx, client.ObjectKeyFromObject(hello), hello); err != nil {
		t.Fatal(err)
	}
	hello.Spec.Steps[0].Transform.Value = "{'greeting': 'bonjour ' + request.params.name}"
	if err := k8s.Update(ctx, hello); err != nil {
		t.Fatal(err)
	}
	poll(t, "the edit is served", func() error { return expect(base+"/hello/ada", token, 200, "bonjour ada") })
	t.Logf("edit served %s after kubectl apply", time.Since(editedAt))

	deletedAt := time.Now()
	if err := k8s.Delete(ctx, &v1alpha1.ApiToken{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "partner"}}); err != nil {
		t.Fatal(err)
	}
	poll(t, "the deleted token is refused", func() error { return expect(base+"/hello/ada", token, 401, "not valid") })
	t.Logf("token revocation served %s after delete", time.Since(deletedAt))

	// Serve without authentication, then take the API server away.
	if err := k8s.Get(ctx, client.ObjectKeyFromObject(hello), hello); err != nil {
		t.Fatal(err)
	}
	hello.Spec.Authentication.Mode = v1alpha1.AuthenticationNone
	if err := k8s.Update(ctx, hello); err != nil {
		t.Fatal(err)
	}
	poll(t, "the open AppAPI answers", func() error { return expect(base+"/hello/grace", "", 200, "bonjour grace") })
	_ = testEnv.ControlPlane.APIServer.Stop()
	if _, err := net.DialTimeout("tcp", strings.TrimPrefix(cfg.Host, "https://"), time.Second); err == nil {
		t.Fatal("the API server still accepts connections")
	}
	for i := range 20 {
		if err := expect(base+"/hello/grace", "", 200, "bonjour grace"); err != nil {
			t.Fatalf("request %d after the API server stopped: %v", i, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func startManager(ctx context.Context, t *testing.T, cfg *rest.Config) {
	t.Helper()
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{Scheme: controllers.NewScheme(), Cache: controllers.CacheOptions(),
		Metrics: metricsserver.Options{BindAddress: "0"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := controllers.Setup(ctx, mgr, controllers.Options{GatewayImage: "example.com/gateway:test"}); err != nil {
		t.Fatal(err)
	}
	go func() { _ = mgr.Start(ctx) }()
}

// startGateway serves a gateway in cluster mode on a loopback port.
func startGateway(ctx context.Context, t *testing.T, cfg *rest.Config, ns, env string) string {
	t.Helper()
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	gw, err := server.New(log, metrics.New())
	if err != nil {
		t.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	src := &cluster.Source{Client: cs, Namespace: ns, Environment: env, Load: gw.Load, Log: log}
	go func() { _ = src.Run(ctx) }()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: gw, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return "http://" + ln.Addr().String()
}

func waitForToken(t *testing.T, k8s client.Client) string {
	t.Helper()
	var token string
	poll(t, "the token is minted", func() error {
		s := &corev1.Secret{}
		if err := k8s.Get(context.Background(), types.NamespacedName{Namespace: "shop", Name: "partner-token"}, s); err != nil {
			return err
		}
		token = string(s.Data["token"])
		return nil
	})
	return token
}

func mustCreate(t *testing.T, k8s client.Client, obj client.Object) {
	t.Helper()
	if err := k8s.Create(context.Background(), obj); err != nil {
		t.Fatal(err)
	}
}

func poll(t *testing.T, what string, check func() error) time.Duration {
	t.Helper()
	return testutil.Eventually(t, deadline, what, check)
}

// expect calls url and checks the status and that the body contains want.
func expect(url, token string, status int, want string) error {
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != status || !strings.Contains(string(body), want) {
		return fmt.Errorf("GET %s: %d %s, want %d with %q", url, resp.StatusCode, body, status, want)
	}
	if status >= 400 && !json.Valid(body) {
		return fmt.Errorf("error body is not JSON: %s", body)
	}
	return nil
}
