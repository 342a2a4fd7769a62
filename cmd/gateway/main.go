// Command gateway serves one Environment's App APIs. In cluster mode it
// follows the snapshot the manager publishes; in local mode it reads
// manifests from a directory and needs no cluster.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/appapi-dev/appapi/gateway/cluster"
	"github.com/appapi-dev/appapi/gateway/expr"
	"github.com/appapi-dev/appapi/gateway/local"
	"github.com/appapi-dev/appapi/gateway/metrics"
	"github.com/appapi-dev/appapi/gateway/server"
)

type options struct {
	namespace, environment, kubeconfig string
	manifests, stateDir, tokenFile     string
	dataDir                            string
	listen, adminListen                string
	drainTimeout                       time.Duration
	pprof                              bool
	limits                             server.Limits
}

func main() {
	o := options{limits: server.DefaultLimits()}
	flag.StringVar(&o.namespace, "namespace", "", "Cluster mode: namespace of the Environment.")
	flag.StringVar(&o.environment, "environment", "", "The Environment to serve (in local mode: which one of the manifests, when there are several).")
	flag.StringVar(&o.kubeconfig, "kubeconfig", "", "Cluster mode: kubeconfig file; defaults to $KUBECONFIG, then the in-cluster configuration.")
	flag.StringVar(&o.manifests, "manifests", "", "Local mode: directory of AppAPI, ApiToken, Environment and Secret manifests to serve.")
	flag.StringVar(&o.stateDir, "state-dir", ".appapi", "Local mode: directory that keeps the hashes of minted tokens.")
	flag.StringVar(&o.dataDir, "data-dir", "", "Directory of the SQLite file (data.db) of an Environment whose spec.datastore is sqlite, created readable by its owner only; "+
		server.DefaultDataDir+" (the volume the controller mounts) when unset, and in local mode --state-dir.")
	flag.StringVar(&o.tokenFile, "token-file", "", "Local mode: file that each minted token is appended to, created readable by its owner only; stderr when unset.")
	flag.StringVar(&o.listen, "listen", ":8080", "Address of the App APIs.")
	flag.StringVar(&o.adminListen, "admin-listen", ":9901", "Address of /healthz, /readyz, /metrics and /openapi.json.")
	flag.BoolVar(&o.pprof, "pprof", false, "Serve net/http/pprof under /debug/pprof/ on the admin address.")
	flag.DurationVar(&o.drainTimeout, "drain-timeout", 35*time.Second, "How long in-flight requests may finish after SIGTERM.")
	flag.IntVar(&o.limits.MaxInFlight, "max-in-flight", o.limits.MaxInFlight, "Pipelines run at once; more requests get 503 with Retry-After. A request takes a slot once its body is read.")
	flag.IntVar(&o.limits.MaxBodyReaders, "max-body-readers", o.limits.MaxBodyReaders, "Request bodies read at once; more get 503 with Retry-After.")
	flag.DurationVar(&o.limits.BodyIdleTimeout, "body-idle-timeout", o.limits.BodyIdleTimeout, "Longest pause while a request body arrives; longer gets 408.")
	flag.DurationVar(&o.limits.WriteGrace, "write-grace", o.limits.WriteGrace, "How long past the request timeout an answer may take to be written before the connection is closed.")
	flag.Func("memory-limit", "Memory budget in bytes (512Mi, 1G): the Go runtime's soft limit, and what requests with bodies may cost at once before more get 503. 0 (the default) sets none.",
		func(v string) error {
			q, err := resource.ParseQuantity(v)
			if err != nil {
				return err
			}
			if q.Sign() < 0 {
				return errors.New("must not be negative")
			}
			o.limits.MemoryLimit = q.Value()
			return nil
		})
	flag.Parse()

	// Buffered so that the access log's line per request is not a write
	// to stdout each; closed, and so flushed, once the gateway has drained.
	out := server.NewLogWriter(os.Stdout, time.Second)
	log := slog.New(slog.NewJSONHandler(out, nil))
	err := run(o, log)
	if err != nil {
		log.Error("gateway stopped", "error", err.Error())
	}
	_ = out.Close()
	if err != nil {
		os.Exit(1)
	}
}

func run(o options, log *slog.Logger) error {
	if (o.manifests == "") == (o.namespace == "") {
		return errors.New("set either --manifests (local mode) or --namespace and --environment (cluster mode)")
	}
	if o.tokenFile != "" && o.manifests == "" {
		return errors.New("--token-file is for local mode (--manifests)")
	}
	m := metrics.New()
	gw, err := server.New(log, m)
	if err != nil {
		return err
	}
	gw.SetLimits(o.limits)
	gw.SetDataDir(dataDir(o))
	if o.limits.MemoryLimit > 0 {
		// The collector works harder as the heap nears the budget, rather
		// than letting garbage take the process past it.
		debug.SetMemoryLimit(o.limits.MemoryLimit)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	// Per-request read and write deadlines follow the Environment's
	// requestTimeout (see server.Limits); these bound what comes before a
	// request and between requests.
	apps := &http.Server{Addr: o.listen, Handler: gw,
		ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	// In local mode /openapi.json names the --listen address; in cluster
	// mode the Environment's Service.
	var adminOpts []server.AdminOption
	if o.manifests != "" {
		adminOpts = append(adminOpts, server.WithAPIListen(o.listen))
	}
	if o.pprof {
		adminOpts = append(adminOpts, server.WithPprof())
	}
	admin := &http.Server{Addr: o.adminListen, Handler: gw.AdminHandler(adminOpts...), ReadHeaderTimeout: 10 * time.Second}
	// Both ports are bound before anything is loaded: a gateway that cannot
	// serve says so and exits before local mode mints and prints tokens,
	// and before a caller meets whatever else holds the port.
	appsLn, err := listen(o.listen, "--listen")
	if err != nil {
		return err
	}
	defer func() { _ = appsLn.Close() }()
	adminLn, err := listen(o.adminListen, "--admin-listen")
	if err != nil {
		return err
	}
	defer func() { _ = adminLn.Close() }()

	source, err := newSource(o, gw, log)
	if err != nil {
		return err
	}
	errs := make(chan error, 3)
	for srv, ln := range map[*http.Server]net.Listener{apps: appsLn, admin: adminLn} {
		log.Info("listening", "address", ln.Addr().String())
		go func() { errs <- srv.Serve(ln) }()
	}
	go func() { errs <- source(ctx) }()

	select {
	case <-ctx.Done():
	case err := <-errs:
		if !errors.Is(err, http.ErrServerClosed) {
			return err
		}
	}
	log.Info("shutting down: draining in-flight requests", "timeout", o.drainTimeout.String())
	drain, cancel := context.WithTimeout(context.Background(), o.drainTimeout)
	defer cancel()
	err = apps.Shutdown(drain)
	_ = admin.Shutdown(drain)
	if cerr := gw.Close(drain); cerr != nil {
		log.Error("datastore not closed", "error", cerr.Error())
	}
	return err
}

// dataDir is where the SQLite file is kept: --data-dir, else in local mode
// the state directory (next to the token hashes), else the volume the
// controller mounts.
func dataDir(o options) string {
	switch {
	case o.dataDir != "":
		return o.dataDir
	case o.manifests != "":
		return o.stateDir
	}
	return server.DefaultDataDir
}

// listen binds addr, naming the address and its flag when it cannot.
func listen(addr, flagName string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		var op *net.OpError
		if errors.As(err, &op) {
			err = op.Err // the address is said once, below
		}
		return nil, fmt.Errorf("cannot listen on %s (%s): %w", addr, flagName, err)
	}
	return ln, nil
}

// newSource returns the loop that feeds the gateway its snapshots.
func newSource(o options, gw *server.Gateway, log *slog.Logger) (func(context.Context) error, error) {
	if o.manifests != "" {
		env, err := expr.NewCompiler()
		if err != nil {
			return nil, err
		}
		out, where, err := tokenOutput(o.tokenFile, log)
		if err != nil {
			return nil, err
		}
		loader := &local.Loader{Dir: o.manifests, StateDir: o.stateDir, Environment: o.environment, Out: out, Expr: env}
		reload := func() {
			res, err := loader.Load()
			if res != nil {
				for _, w := range res.Warnings {
					log.Warn(w)
				}
			}
			if err != nil {
				log.Error("manifests not loaded; serving the last good ones", "error", err.Error())
				return
			}
			for _, t := range res.Minted {
				log.Info("minted a token", "apitoken", t.Name, "environment", t.Environment, "id", t.ID, "rotated", t.Rotated, "to", where)
			}
			if err := gw.Load(res.Snapshot); err != nil {
				log.Error("snapshot not loaded", "error", err.Error())
			}
		}
		watcher := local.NewWatcher(o.manifests)
		reload()
		if gw.Ready() != nil {
			return nil, fmt.Errorf("nothing to serve in %s", o.manifests)
		}
		return func(ctx context.Context) error {
			watcher.Run(ctx, time.Second, reload)
			return nil
		}, nil
	}
	if o.environment == "" {
		return nil, errors.New("--environment is required with --namespace")
	}
	cfg, err := restConfig(o.kubeconfig)
	if err != nil {
		return nil, err
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	src := &cluster.Source{Client: client, Namespace: o.namespace, Environment: o.environment, Load: gw.Load, Log: log}
	return src.Run, nil
}

func restConfig(kubeconfig string) (*rest.Config, error) {
	if kubeconfig == "" {
		kubeconfig = os.Getenv("KUBECONFIG")
	}
	if kubeconfig != "" {
		return clientcmd.BuildConfigFromFlags("", kubeconfig)
	}
	return rest.InClusterConfig()
}
