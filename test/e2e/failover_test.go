//go:build e2e

package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/appapi-dev/appapi/api/v1alpha1"
	"github.com/appapi-dev/appapi/internal/snapshot"
	"github.com/appapi-dev/appapi/internal/testutil"
	apptoken "github.com/appapi-dev/appapi/internal/token"
	"github.com/appapi-dev/appapi/test/harness"
)

// The failover test's leases are shorter than controller-runtime's defaults
// (15s, 10s, 2s) in the same proportions, so that waiting out a killed
// leader's lease keeps the test short. The lease is whole seconds because
// the Lease object stores seconds.
const (
	leaseDuration = 8 * time.Second
	renewDeadline = 5 * time.Second
	retryPeriod   = 1 * time.Second
	// leaseName is cmd/manager's LeaderElectionID.
	leaseName = "appapi-manager.appapi.dev"
)

const failoverManifest = `
apiVersion: appapi.dev/v1alpha1
kind: Environment
metadata: {name: prod}
spec:
  requestTimeout: 2s
---
apiVersion: appapi.dev/v1alpha1
kind: ApiToken
metadata: {name: partner}
spec: {environment: prod}
---
apiVersion: appapi.dev/v1alpha1
kind: ApiToken
metadata: {name: internal}
spec: {environment: prod}
`

func apiTokens(names ...string) string {
	var b strings.Builder
	for _, name := range names {
		fmt.Fprintf(&b, "---\napiVersion: appapi.dev/v1alpha1\nkind: ApiToken\nmetadata: {name: %s}\nspec: {environment: prod}\n", name)
	}
	return b.String()
}

// TestManagerFailover runs two manager replicas with leader election, as
// config/manager does, against a control plane of their own (the suite's
// manager runs without leader election and would reconcile alongside
// them). It kills the leader with SIGKILL, so that it cannot give up its
// Lease, and later stops the next leader with SIGTERM, which gives it up.
// Each time the other replica must take over and reconcile what was
// applied meanwhile; throughout, no token may be minted twice, the
// published snapshot generation may never go back, and the gateway, which
// needs no manager to serve, must keep answering.
func TestManagerFailover(t *testing.T) {
	ctx := context.Background()
	work, err := os.MkdirTemp("", "appapi-failover-")
	if err != nil {
		t.Fatal(err)
	}
	abs, _ := filepath.Abs(root)
	ha, err := harness.Start(ctx, harness.Options{Root: abs, WorkDir: work, Progress: os.Stderr, Replicas: 2,
		ManagerArgs: []string{"--leader-elect", "--leader-election-namespace=" + harness.ManagerNamespace,
			"--leader-election-lease-duration=" + leaseDuration.String(),
			"--leader-election-renew-deadline=" + renewDeadline.String(),
			"--leader-election-retry-period=" + retryPeriod.String()}})
	if err != nil {
		t.Fatalf("harness: %v (logs in %s)", err, work)
	}
	t.Cleanup(func() {
		processes := ha.Processes()
		ha.Stop()
		for _, p := range processes {
			if err := syscall.Kill(p.PID(), 0); err == nil {
				t.Errorf("process %d is still running after Stop", p.PID())
			}
		}
		if t.Failed() {
			t.Logf("logs are in %s", work)
		} else {
			_ = os.RemoveAll(work)
		}
	})
	c := &cluster{t: t, h: ha, ns: "failover"}
	c.kubectl("create", "namespace", c.ns)

	first := c.leader()
	lease := c.lease()
	if got := *lease.Spec.LeaseDurationSeconds; time.Duration(got)*time.Second != leaseDuration {
		t.Fatalf("the Lease says %ds, the managers were given %s", got, leaseDuration)
	}
	t.Logf("%s leads", first.Name)
	// The leader records its election as an Event on the Lease, which
	// config/rbac's leader election Role must allow.
	c.wait("the Event of the election", func() error {
		events := &corev1.EventList{}
		if err := ha.Client.List(ctx, events, client.InNamespace(harness.ManagerNamespace)); err != nil {
			return err
		}
		for _, e := range events.Items {
			if e.InvolvedObject.Kind == "Lease" && e.InvolvedObject.Name == leaseName && strings.HasSuffix(e.Message, "became leader") {
				return nil
			}
		}
		return fmt.Errorf("none among %d Events", len(events.Items))
	})

	c.apply(failoverManifest + "---" + helloAppAPI("partner", "'hello'"))
	url := c.gatewayURL() + "/hello/ada"
	partner := c.tokenText("partner")
	c.waitServed(url, partner, "hello ada")

	generations := watchGenerations(ctx, t, ha, c.ns, "prod")
	prober := probeGateway(url, partner)

	{
		t.Log("SIGKILL: the other replica takes over once the lease expires")
		// Applied just before the kill, so that the leader may die halfway
		// through minting them.
		c.apply(apiTokens("before-kill-1", "before-kill-2", "before-kill-3") + "---" + helloAppAPI("partner", "'hi'"))
		first.Kill()
		// The dead leader's last renewal, now that it can renew no more.
		before := c.lease()
		after := c.waitNewHolder(before)
		takeover := after.Spec.AcquireTime.Sub(before.Spec.RenewTime.Time)
		t.Logf("lease taken over %s after the killed leader's last renewal (lease duration %s, %d transitions)",
			takeover, leaseDuration, *after.Spec.LeaseTransitions)
		// The survivor must respect the lease: nobody reconciles beside a
		// leader whose lease still runs.
		if takeover < leaseDuration {
			t.Errorf("the lease was taken over %s after the last renewal, before it expired (%s)", takeover, leaseDuration)
		}
		// It polls every retry period (up to 2.2 times that, with jitter),
		// so it takes over within the lease duration plus a few retry
		// periods; the margin of one more lease duration is for a shared,
		// noisy machine.
		if takeover > 2*leaseDuration {
			t.Errorf("the lease was taken over %s after the last renewal, more than twice its duration (%s)", takeover, leaseDuration)
		}
		if *after.Spec.LeaseTransitions != *before.Spec.LeaseTransitions+1 {
			t.Errorf("lease transitions went from %d to %d, want one more", *before.Spec.LeaseTransitions, *after.Spec.LeaseTransitions)
		}

		c.apply(apiTokens("after-kill") + "---" + helloAppAPI("partner", "'bonjour'"))
		c.tokenText("after-kill")
		for _, name := range []string{"before-kill-1", "before-kill-2", "before-kill-3"} {
			c.tokenText(name)
		}
		c.waitServed(url, partner, "bonjour ada")
	}
	{
		t.Log("SIGTERM: the leader hands over at once")
		// A replacement, as the Deployment would start for the killed Pod.
		if _, err := ha.StartManager(ctx); err != nil {
			t.Fatal(err)
		}
		leader := c.leader()
		before := c.lease()
		stopping := time.Now()
		leader.Stop()
		t.Logf("%s stopped %s after SIGTERM", leader.Name, time.Since(stopping))
		after := c.waitNewHolder(before)
		handover := after.Spec.AcquireTime.Sub(before.Spec.RenewTime.Time)
		t.Logf("lease taken over %s after the leader's last renewal before SIGTERM (lease duration %s)", handover, leaseDuration)
		// Released on shutdown, the lease is taken at the next retry
		// rather than when it would have expired.
		if handover >= leaseDuration {
			t.Errorf("the lease was taken over %s after the last renewal, not before it would have expired (%s): it was not released", handover, leaseDuration)
		}

		c.apply(apiTokens("after-term") + "---" + helloAppAPI("partner", "'hola'"))
		c.tokenText("after-term")
		c.waitServed(url, partner, "hola ada")
	}

	seen := generations.stop()
	t.Logf("published generations, in order: %v", seen)
	// The first, then one at least for each of the three edits.
	if len(seen) < 4 {
		t.Errorf("saw %d published generations; the three edits alone publish three after the first", len(seen))
	}
	for i := 1; i < len(seen); i++ {
		if seen[i] < seen[i-1] {
			t.Errorf("the published generation went back from %d to %d", seen[i-1], seen[i])
		}
	}
	if err := generations.failed(); err != nil {
		t.Errorf("watching the published snapshot: %v", err)
	}

	served, failures := prober.stop()
	t.Logf("the gateway answered %d requests during both failovers", served)
	if served == 0 || len(failures) > 0 {
		t.Errorf("the gateway answered %d requests, and these failed: %v", served, failures)
	}

	// A token minted while a leader ran undisturbed has exactly one Minted
	// event. One applied just before the kill may have lost its event with
	// the leader; a second one would mean it was minted twice.
	for _, name := range []string{"partner", "internal", "after-kill", "after-term"} {
		c.checkMintedOnce(name, 1)
	}
	for _, name := range []string{"before-kill-1", "before-kill-2", "before-kill-3"} {
		c.checkMintedOnce(name, 0)
	}
}

// cluster drives one harness with its own kubectl.
type cluster struct {
	t  *testing.T
	h  *harness.Harness
	ns string
}

func (c *cluster) kubectl(args ...string) string {
	c.t.Helper()
	return c.kubectlStdin("", args...)
}

func (c *cluster) kubectlStdin(stdin string, args ...string) string {
	c.t.Helper()
	cmd := exec.Command(filepath.Join(root, "bin", "k8s", "kubectl"), append([]string{"--kubeconfig=" + c.h.Kubeconfig}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		c.t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func (c *cluster) apply(manifest string) {
	c.t.Helper()
	c.kubectlStdin(manifest, "apply", "-n", c.ns, "-f", "-")
}

// wait waits up to a minute; a failover adds a lease duration to the usual
// delays, on a machine that may be busy.
func (c *cluster) wait(what string, check func() error) time.Duration {
	c.t.Helper()
	return testutil.Eventually(c.t, time.Minute, what, check)
}

// leader waits until exactly one running manager leads, and returns it.
func (c *cluster) leader() *harness.Manager {
	c.t.Helper()
	var leader *harness.Manager
	c.wait("one manager leads", func() error {
		var leading []string
		for _, m := range c.h.Managers() {
			if m.Leading() {
				leader = m
				leading = append(leading, m.Name)
			}
		}
		if len(leading) != 1 {
			return fmt.Errorf("leading: %v", leading)
		}
		return nil
	})
	return leader
}

func (c *cluster) lease() *coordinationv1.Lease {
	c.t.Helper()
	lease := &coordinationv1.Lease{}
	c.wait("the leader election Lease", func() error {
		return c.h.Client.Get(context.Background(), types.NamespacedName{Namespace: harness.ManagerNamespace, Name: leaseName}, lease)
	})
	return lease
}

// waitNewHolder waits until a replica other than before's holder holds the Lease.
func (c *cluster) waitNewHolder(before *coordinationv1.Lease) *coordinationv1.Lease {
	c.t.Helper()
	var lease *coordinationv1.Lease
	c.wait("another replica holds the Lease", func() error {
		lease = c.lease()
		holder := ptr.Deref(lease.Spec.HolderIdentity, "")
		if holder == "" || holder == ptr.Deref(before.Spec.HolderIdentity, "") {
			return fmt.Errorf("held by %q", holder)
		}
		return nil
	})
	c.leader()
	return lease
}

func (c *cluster) gatewayURL() string {
	c.t.Helper()
	var url string
	c.wait("the gateway of Environment prod", func() error {
		gw, ok := c.h.Gateway(c.ns, "prod")
		if !ok {
			return fmt.Errorf("no gateway process yet")
		}
		url = gw.URL
		return nil
	})
	return url
}

// tokenText waits for an ApiToken to be Ready and returns its token as
// kubectl prints it (base64), for requests only: it is never logged.
func (c *cluster) tokenText(name string) string {
	c.t.Helper()
	c.kubectl("wait", "-n", c.ns, "--for=condition=Ready", "--timeout=60s", "apitoken/"+name)
	return c.kubectl("get", "secret", "-n", c.ns, name+"-token", "-o", "jsonpath={.data.token}")
}

func (c *cluster) waitServed(url, tokenB64, want string) {
	c.t.Helper()
	took := c.wait("the gateway answers "+want, expect("GET", url, tokenB64, 200, want))
	c.t.Logf("%q served after %s", want, took)
}

// checkMintedOnce checks that an ApiToken holds one token: its Secret has
// one key, whose token's jti is status.tokenID and whose hash is the
// record's current one; the record has no previous token and no rotation;
// and there is at most one Minted event, at least atLeast.
func (c *cluster) checkMintedOnce(name string, atLeast int) {
	c.t.Helper()
	ctx := context.Background()
	tok := &v1alpha1.ApiToken{}
	if err := c.h.Client.Get(ctx, types.NamespacedName{Namespace: c.ns, Name: name}, tok); err != nil {
		c.t.Fatal(err)
	}
	id := tok.Status.TokenID
	if id == "" {
		c.t.Errorf("ApiToken %s has no status.tokenID", name)
	}

	secret := &corev1.Secret{}
	if err := c.h.Client.Get(ctx, types.NamespacedName{Namespace: c.ns, Name: tok.TokenSecretName()}, secret); err != nil {
		c.t.Fatal(err)
	}
	text, ok := secret.Data[v1alpha1.TokenSecretKey]
	if len(secret.Data) != 1 || !ok {
		c.t.Errorf("Secret %s has %d keys, want only %q", secret.Name, len(secret.Data), v1alpha1.TokenSecretKey)
	}
	if jti := tokenID(string(text)); jti != id {
		c.t.Errorf("Secret %s holds token %q, status.tokenID is %q", secret.Name, jti, id)
	}

	recordSecret := &corev1.Secret{}
	if err := c.h.Client.Get(ctx, types.NamespacedName{Namespace: c.ns, Name: "appapi-token." + name}, recordSecret); err != nil {
		c.t.Fatal(err)
	}
	record, err := apptoken.UnmarshalRecord(recordSecret.Data[apptoken.RecordKey])
	if err != nil {
		c.t.Fatalf("record of %s: %v", name, err)
	}
	if record.Current.ID != id || record.Current.Hash != snapshot.HashToken(string(text)) {
		c.t.Errorf("record of %s: current token %q, or its hash, is not the Secret's token %q", name, record.Current.ID, id)
	}
	if len(record.Previous) != 0 || record.Rotation != "" {
		c.t.Errorf("record of %s: %d previous tokens, rotation %q; want none: it was minted once", name, len(record.Previous), record.Rotation)
	}

	// Events are recorded asynchronously: wait for the expected one, then
	// count them all.
	var minted int32
	c.wait(fmt.Sprintf("%d Minted event(s) for %s", atLeast, name), func() error {
		events := &eventsv1.EventList{}
		if err := c.h.Client.List(ctx, events, client.InNamespace(c.ns)); err != nil {
			return err
		}
		minted = 0
		for _, e := range events.Items {
			if e.Regarding.Kind == "ApiToken" && e.Regarding.Name == name && e.Reason == "Minted" {
				minted++
				if e.Series != nil {
					minted += e.Series.Count - 1
				}
			}
		}
		if minted < int32(atLeast) {
			return fmt.Errorf("%d Minted events", minted)
		}
		return nil
	})
	if minted > 1 {
		c.t.Errorf("ApiToken %s has %d Minted events: it was minted more than once", name, minted)
	}
}

// tokenID is a token's jti claim, read without verifying it: what matters
// here is which token the Secret holds.
func tokenID(text string) string {
	parts := strings.Split(text, ".")
	if len(parts) != 3 {
		return "not a JWT"
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return "not a JWT"
	}
	var claims struct {
		JTI string `json:"jti"`
	}
	if json.Unmarshal(payload, &claims) != nil {
		return "not a JWT"
	}
	return claims.JTI
}

// generationWatch follows an Environment's published snapshot index. A
// watch sees every version the API server stores, where polling could miss
// one that is overwritten quickly.
type generationWatch struct {
	cancel context.CancelFunc
	done   chan struct{}
	mu     sync.Mutex
	seen   []int64
	err    error
}

func watchGenerations(ctx context.Context, t *testing.T, h *harness.Harness, ns, environment string) *generationWatch {
	t.Helper()
	clientset, err := kubernetes.NewForConfig(h.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	configMaps := clientset.CoreV1().ConfigMaps(ns)
	selector := fields.OneTermEqualSelector("metadata.name", snapshot.IndexName(environment)).String()
	list, err := configMaps.List(ctx, metav1.ListOptions{FieldSelector: selector})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(ctx)
	g := &generationWatch{cancel: cancel, done: make(chan struct{})}
	for i := range list.Items {
		g.observe(&list.Items[i])
	}
	// The retry watcher resumes from the last version it saw when the
	// API server ends a watch, so no version is skipped.
	w, err := watchtools.NewRetryWatcherWithContext(ctx, list.ResourceVersion, &cache.ListWatch{
		WatchFuncWithContext: func(ctx context.Context, options metav1.ListOptions) (watch.Interface, error) {
			options.FieldSelector = selector
			return configMaps.Watch(ctx, options)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(g.done)
		defer w.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case ev, ok := <-w.ResultChan():
				if !ok {
					g.fail(fmt.Errorf("the watch ended"))
					return
				}
				switch obj := ev.Object.(type) {
				case *corev1.ConfigMap:
					if ev.Type != watch.Deleted {
						g.observe(obj)
					}
				case *metav1.Status:
					g.fail(fmt.Errorf("watch error: %s", obj.Message))
				}
			}
		}
	}()
	return g
}

func (g *generationWatch) observe(cm *corev1.ConfigMap) {
	idx, err := snapshot.DecodeIndex([]byte(cm.Data[snapshot.IndexKey]))
	if err != nil {
		g.fail(fmt.Errorf("index version %s: %w", cm.ResourceVersion, err))
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if n := len(g.seen); n == 0 || g.seen[n-1] != idx.Generation {
		g.seen = append(g.seen, idx.Generation)
	}
}

func (g *generationWatch) fail(err error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.err == nil {
		g.err = err
	}
}

func (g *generationWatch) failed() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.err
}

// stop ends the watch and returns the generations seen, each change once.
func (g *generationWatch) stop() []int64 {
	g.cancel()
	<-g.done
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.seen
}

// gatewayProbe calls the gateway while the managers fail over: it serves
// its last snapshot without them.
type gatewayProbe struct {
	stopping chan struct{}
	done     chan struct{}
	served   int
	failures []string
}

func probeGateway(url, tokenB64 string) *gatewayProbe {
	p := &gatewayProbe{stopping: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		for {
			select {
			case <-p.stopping:
				return
			case <-time.After(100 * time.Millisecond):
			}
			r, err := call("GET", url, tokenB64, "", nil)
			switch {
			case err != nil:
				p.failures = append(p.failures, err.Error())
			case r.status != http.StatusOK:
				p.failures = append(p.failures, fmt.Sprintf("%d %s", r.status, r.body))
			default:
				p.served++
			}
		}
	}()
	return p
}

func (p *gatewayProbe) stop() (served int, failures []string) {
	close(p.stopping)
	<-p.done
	return p.served, p.failures
}
