// Package harness runs appapi the way a user meets it, with every part a
// separate process: kube-apiserver and etcd (through envtest), the manager
// binary, and one gateway binary per Environment in cluster mode. No
// kubelet runs, so the harness does the one thing a kubelet would: once a
// gateway answers /readyz it marks the gateway's Deployment available.
// `make demo` and the end-to-end suite both use it.
package harness

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"

	"github.com/appapi-dev/appapi/controllers"
	"github.com/appapi-dev/appapi/internal/demoupstream"
	"github.com/appapi-dev/appapi/internal/testutil"
)

// Options configure a harness.
type Options struct {
	// Root is the repository root, which holds bin/ and config/.
	Root string
	// WorkDir receives the kubeconfig and one log file per process.
	WorkDir string
	// Progress receives a line per stage.
	Progress io.Writer
	// UpstreamAddress, when set, runs the examples' upstream there.
	UpstreamAddress string
	// Replicas is how many manager processes Start runs; 0 means one.
	// Several need ManagerArgs that make them elect a leader.
	Replicas int
	// ManagerArgs are added to every manager's command line.
	ManagerArgs []string
	// GatewayArgs are added to every gateway's command line.
	GatewayArgs []string
}

// Harness is a running control plane, manager and gateways.
type Harness struct {
	opts       Options
	env        *envtest.Environment
	cfg        *rest.Config
	Client     client.Client
	Kubeconfig string

	// managerKubeconfig acts as the manager's ServiceAccount.
	managerKubeconfig string

	mu              sync.Mutex
	managers        []*Manager
	managersStarted int
	gateways        map[types.NamespacedName]*Gateway
	upstream        *http.Server
	stop            context.CancelFunc
	done            chan struct{}
}

// Manager is one manager process.
type Manager struct {
	*Process
	// Name is unique per harness and names the log, WorkDir/<Name>.log.
	Name string
}

// Leading reports whether the manager logged that it acquired the leader
// Lease. A replica that loses the Lease exits, so a running one that
// acquired it leads.
func (m *Manager) Leading() bool {
	log, err := m.Log()
	return err == nil && !m.Exited() && bytes.Contains(log, []byte("Successfully acquired lease"))
}

// Gateway is one Environment's gateway process.
type Gateway struct {
	*Process
	// URL is where its App APIs answer; Admin is its admin port.
	URL, Admin string
}

// Start brings everything up, or stops what it started and fails.
func Start(ctx context.Context, opts Options) (h *Harness, err error) {
	if err := os.MkdirAll(opts.WorkDir, 0o755); err != nil {
		return nil, err
	}
	if opts.Progress == nil {
		opts.Progress = io.Discard
	}
	h = &Harness{opts: opts, gateways: map[types.NamespacedName]*Gateway{}, done: make(chan struct{})}
	defer func() {
		if err != nil {
			h.Stop()
			h = nil
		}
	}()
	if opts.UpstreamAddress != "" {
		if err := h.startUpstream(opts.UpstreamAddress); err != nil {
			return h, err
		}
	}
	assets, err := testutil.EnvtestAssets(opts.Root)
	if err != nil {
		return h, fmt.Errorf("control plane: %w", err)
	}
	h.progress("starting kube-apiserver and etcd (" + assets + ")")
	h.env = &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join(opts.Root, "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
		BinaryAssetsDirectory: assets,
		// A graceful API server shutdown waits for watches to end, 20
		// seconds by default; nothing here needs it.
		ControlPlaneStopTimeout: 3 * time.Second,
	}
	if h.cfg, err = h.env.Start(); err != nil {
		return h, fmt.Errorf("control plane: %w (run `make envtest` first)", err)
	}
	if h.Client, err = client.New(h.cfg, client.Options{Scheme: controllers.NewScheme()}); err != nil {
		return h, err
	}
	h.Kubeconfig = filepath.Join(opts.WorkDir, "kubeconfig")
	if err := writeKubeconfig(h.Kubeconfig, h.cfg, ""); err != nil {
		return h, err
	}
	h.progress("CRDs installed; kubeconfig written to " + h.Kubeconfig)

	if h.managerKubeconfig, err = h.managerIdentity(ctx); err != nil {
		return h, fmt.Errorf("manager RBAC: %w", err)
	}
	for range max(opts.Replicas, 1) {
		if _, err := h.StartManager(ctx); err != nil {
			return h, err
		}
	}
	runCtx, cancel := context.WithCancel(context.Background())
	h.stop = cancel
	go h.superviseGateways(runCtx)
	h.progress("manager ready; gateways start as Environments appear")
	return h, nil
}

// StartManager starts one more manager process, as a Deployment replaces a
// Pod, and waits until it answers /readyz. The first is named "manager",
// the others "manager-2", "manager-3" and so on.
func (h *Harness) StartManager(ctx context.Context) (*Manager, error) {
	h.mu.Lock()
	h.managersStarted++
	name := "manager"
	if h.managersStarted > 1 {
		name = fmt.Sprintf("manager-%d", h.managersStarted)
	}
	h.mu.Unlock()
	h.progress("starting " + name + " as its ServiceAccount, with config/rbac's ClusterRole (log: " + h.logPath(name) + ")")
	probe, err := freeAddress()
	if err != nil {
		return nil, err
	}
	args := append([]string{"--kubeconfig=" + h.managerKubeconfig, "--metrics-bind-address=0", "--health-probe-bind-address=" + probe,
		"--gateway-image=ghcr.io/appapi-dev/appapi-gateway:dev"}, h.opts.ManagerArgs...)
	p, err := startProcess(filepath.Join(h.opts.Root, "bin", "manager"), h.logPath(name), args...)
	if err != nil {
		return nil, err
	}
	m := &Manager{Process: p, Name: name}
	h.mu.Lock()
	h.managers = append(h.managers, m)
	h.mu.Unlock()
	// A replica that waits for the lease is ready too: readiness says the
	// process runs, not that it leads.
	if err := waitHTTP(ctx, p, "http://"+probe+"/readyz", 60*time.Second); err != nil {
		return nil, fmt.Errorf("%s: %w (log: %s)", name, err, h.logPath(name))
	}
	return m, nil
}

// Managers lists the manager processes in the order they started, those
// that exited included.
func (h *Harness) Managers() []*Manager {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.managers)
}

// RESTConfig is an administrator's connection to the API server.
func (h *Harness) RESTConfig() *rest.Config { return rest.CopyConfig(h.cfg) }

// ManagerNamespace is the namespace `make deploy` runs the manager in; the
// harness's managers act as its ServiceAccount there, and that is where
// leader election must keep its Lease (--leader-election-namespace).
const ManagerNamespace = "appapi-system"

// managerIdentity binds the ClusterRole that `make manifests` generates
// (config/rbac/role.yaml) and the leader election Role
// (config/rbac/leader_election_role.yaml) to a ServiceAccount, and returns
// a kubeconfig acting as it: the manager runs with exactly the permissions
// `make deploy` gives it, so a missing rule fails here rather than in a
// cluster.
func (h *Harness) managerIdentity(ctx context.Context) (string, error) {
	role := &rbacv1.ClusterRole{}
	if err := readManifest(filepath.Join(h.opts.Root, "config", "rbac", "role.yaml"), role); err != nil {
		return "", err
	}
	election := &rbacv1.Role{}
	if err := readManifest(filepath.Join(h.opts.Root, "config", "rbac", "leader_election_role.yaml"), election); err != nil {
		return "", err
	}
	// config/default puts it in the manager's namespace.
	election.Namespace = ManagerNamespace
	const namespace, name = ManagerNamespace, "appapi-controller-manager"
	subjects := []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: namespace, Name: name}}
	for _, obj := range []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}},
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name}},
		role,
		&rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: name},
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role.Name},
			Subjects: subjects},
		election,
		&rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: election.Name},
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: election.Name},
			Subjects: subjects},
	} {
		if err := h.Client.Create(ctx, obj); err != nil {
			return "", fmt.Errorf("create %T %s: %w", obj, obj.GetName(), err)
		}
	}
	path := filepath.Join(h.opts.WorkDir, "manager.kubeconfig")
	return path, writeKubeconfig(path, h.cfg, "system:serviceaccount:"+namespace+":"+name)
}

func readManifest(path string, obj any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := yaml.UnmarshalStrict(data, obj); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

func (h *Harness) progress(line string) {
	_, _ = fmt.Fprintf(h.opts.Progress, "appapi demo: %s\n", line)
}

func (h *Harness) logPath(name string) string { return filepath.Join(h.opts.WorkDir, name+".log") }

func (h *Harness) startUpstream(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("the examples' upstream cannot listen on %s: %w", addr, err)
	}
	h.upstream = &http.Server{Handler: demoupstream.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = h.upstream.Serve(ln) }()
	h.progress("examples' upstream listening on http://" + addr)
	return nil
}

// superviseGateways keeps one gateway process per Environment that has a
// gateway Deployment, as the Deployment would, and stops the processes of
// Environments that are gone.
func (h *Harness) superviseGateways(ctx context.Context) {
	defer close(h.done)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		deployments := &appsv1.DeploymentList{}
		if err := h.Client.List(ctx, deployments, client.MatchingLabels{controllers.LabelName: controllers.GatewayAppName}); err != nil {
			continue
		}
		want := map[types.NamespacedName]*appsv1.Deployment{}
		for i := range deployments.Items {
			d := &deployments.Items[i]
			if d.DeletionTimestamp.IsZero() {
				want[types.NamespacedName{Namespace: d.Namespace, Name: d.Labels[controllers.LabelEnvironment]}] = d
			}
		}
		h.mu.Lock()
		for key, gw := range h.gateways {
			if _, ok := want[key]; !ok {
				gw.Stop()
				delete(h.gateways, key)
				h.progress(fmt.Sprintf("stopped the gateway of Environment %s", key))
			}
		}
		for key, d := range want {
			gw, ok := h.gateways[key]
			if !ok || gw.Exited() {
				var err error
				if gw, err = h.startGateway(key); err != nil {
					h.progress(fmt.Sprintf("gateway of Environment %s: %v", key, err))
					continue
				}
				h.gateways[key] = gw
			}
			h.markAvailable(ctx, gw, d)
		}
		h.mu.Unlock()
	}
}

// startGateway runs a gateway as its Environment's ServiceAccount, with the
// Role the controller gave it, as in a cluster.
func (h *Harness) startGateway(key types.NamespacedName) (*Gateway, error) {
	name := fmt.Sprintf("gateway-%s-%s", key.Namespace, key.Name)
	kubeconfig := filepath.Join(h.opts.WorkDir, name+".kubeconfig")
	if err := writeKubeconfig(kubeconfig, h.cfg, fmt.Sprintf("system:serviceaccount:%s:appapi-%s", key.Namespace, key.Name)); err != nil {
		return nil, err
	}
	listen, err := freeAddress()
	if err != nil {
		return nil, err
	}
	admin, err := freeAddress()
	if err != nil {
		return nil, err
	}
	args := append([]string{"--namespace=" + key.Namespace, "--environment=" + key.Name, "--kubeconfig=" + kubeconfig,
		"--listen=" + listen, "--admin-listen=" + admin, "--drain-timeout=2s",
		// What the Environment's PersistentVolumeClaim would hold, in a
		// cluster: no kubelet mounts it here.
		"--data-dir=" + filepath.Join(h.opts.WorkDir, name+"-data")}, h.opts.GatewayArgs...)
	p, err := startProcess(filepath.Join(h.opts.Root, "bin", "gateway"), h.logPath(name), args...)
	if err != nil {
		return nil, err
	}
	h.progress(fmt.Sprintf("started the gateway of Environment %s on http://%s (log: %s)", key, listen, h.logPath(name)))
	return &Gateway{Process: p, URL: "http://" + listen, Admin: "http://" + admin}, nil
}

// markAvailable reports the Deployment available once its gateway is ready,
// as the Deployment controller would from the kubelet's probes.
func (h *Harness) markAvailable(ctx context.Context, gw *Gateway, d *appsv1.Deployment) {
	if isAvailable(d) {
		return
	}
	resp, err := probeClient.Get(gw.Admin + "/readyz")
	if err != nil {
		return
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return
	}
	replicas := int32(1)
	if d.Spec.Replicas != nil {
		replicas = *d.Spec.Replicas
	}
	d.Status = appsv1.DeploymentStatus{
		ObservedGeneration: d.Generation, Replicas: replicas, ReadyReplicas: replicas,
		AvailableReplicas: replicas, UpdatedReplicas: replicas,
		Conditions: []appsv1.DeploymentCondition{{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionTrue,
			Reason: "MinimumReplicasAvailable", Message: "marked by the appapi harness: the gateway process answers /readyz",
			LastUpdateTime: metav1.Now(), LastTransitionTime: metav1.Now()}},
	}
	_ = h.Client.Status().Update(ctx, d)
}

// probeClient is a kubelet's probe: short, so one stuck gateway does not
// hold up the others.
var probeClient = &http.Client{Timeout: 2 * time.Second}

func isAvailable(d *appsv1.Deployment) bool {
	if d.Status.ObservedGeneration < d.Generation {
		return false
	}
	for _, c := range d.Status.Conditions {
		if c.Type == appsv1.DeploymentAvailable && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}

// Gateway returns the running gateway of an Environment, if any.
func (h *Harness) Gateway(namespace, environment string) (*Gateway, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	gw, ok := h.gateways[types.NamespacedName{Namespace: namespace, Name: environment}]
	return gw, ok
}

// Processes lists every process the harness started and still knows.
func (h *Harness) Processes() []*Process {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []*Process
	for _, m := range h.managers {
		out = append(out, m.Process)
	}
	for _, gw := range h.gateways {
		out = append(out, gw.Process)
	}
	return out
}

// Stop stops every process the harness started and the control plane.
func (h *Harness) Stop() {
	if h.stop != nil {
		h.stop()
		<-h.done
	}
	h.mu.Lock()
	for _, gw := range h.gateways {
		gw.Stop()
	}
	managers := h.managers
	h.mu.Unlock()
	for _, m := range managers {
		m.Stop()
	}
	if h.env != nil {
		_ = h.env.Stop()
	}
	if h.upstream != nil {
		_ = h.upstream.Close()
	}
}

// writeKubeconfig writes a kubeconfig for cfg, acting as impersonate when set.
func writeKubeconfig(path string, cfg *rest.Config, impersonate string) error {
	kc := clientcmdapi.NewConfig()
	kc.Clusters["appapi"] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthorityData: cfg.CAData}
	kc.AuthInfos["appapi"] = &clientcmdapi.AuthInfo{ClientCertificateData: cfg.CertData, ClientKeyData: cfg.KeyData,
		Token: cfg.BearerToken, Impersonate: impersonate}
	kc.Contexts["appapi"] = &clientcmdapi.Context{Cluster: "appapi", AuthInfo: "appapi", Namespace: "default"}
	kc.CurrentContext = "appapi"
	return clientcmd.WriteToFile(*kc, path)
}

func freeAddress() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer func() { _ = ln.Close() }()
	return ln.Addr().String(), nil
}

// waitHTTP waits until url answers 200, the process exits, or timeout passes.
func waitHTTP(ctx context.Context, p *Process, url string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if p.Exited() {
			return errors.New("the process exited")
		}
		if resp, err := http.Get(url); err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return fmt.Errorf("%s did not answer within %s", url, timeout)
}
