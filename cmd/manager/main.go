// Command manager runs the appapi controllers: it turns Environments,
// ApiTokens and AppAPIs into gateway Deployments and their snapshots.
package main

import (
	"errors"
	"flag"
	"os"
	"time"

	"go.uber.org/zap/zapcore"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/appapi-dev/appapi/controllers"
)

func main() {
	var (
		metricsAddr  string
		pprofAddr    string
		secureMetric bool
		probeAddr    string
		leaderElect  bool
		election     leaderElection
		opts         controllers.Options
	)
	flag.StringVar(&metricsAddr, "metrics-bind-address", ":8443", "Address of the metrics endpoint; 0 disables it.")
	flag.BoolVar(&secureMetric, "metrics-secure", true, "Serve metrics over HTTPS with Kubernetes authentication and authorization.")
	flag.StringVar(&probeAddr, "health-probe-bind-address", ":8081", "Address of the /healthz and /readyz endpoints.")
	flag.StringVar(&pprofAddr, "pprof-bind-address", "", "Address of net/http/pprof (/debug/pprof/); empty disables it. Opt-in: profiles show the manager's work.")
	flag.BoolVar(&leaderElect, "leader-elect", false, "Elect a leader, so that only one of several replicas reconciles.")
	election.bindFlags(flag.CommandLine)
	flag.StringVar(&opts.GatewayImage, "gateway-image", "ghcr.io/appapi-dev/appapi-gateway:dev", "Gateway image of Environments that name none.")
	zapOpts := zap.Options{TimeEncoder: zapcore.RFC3339NanoTimeEncoder}
	zapOpts.BindFlags(flag.CommandLine)
	flag.Parse()
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&zapOpts)))
	log := ctrl.Log.WithName("setup")

	metricsOpts := metricsserver.Options{BindAddress: metricsAddr, SecureServing: secureMetric}
	if secureMetric {
		metricsOpts.FilterProvider = filters.WithAuthenticationAndAuthorization
	}
	if leaderElect {
		if err := election.validate(); err != nil {
			log.Error(err, "invalid leader election flags")
			os.Exit(1)
		}
	}
	mgr, err := ctrl.NewManager(ctrl.GetConfigOrDie(), ctrl.Options{
		Scheme:                  controllers.NewScheme(),
		Cache:                   controllers.CacheOptions(),
		Metrics:                 metricsOpts,
		HealthProbeBindAddress:  probeAddr,
		PprofBindAddress:        pprofAddr,
		LeaderElection:          leaderElect,
		LeaderElectionID:        "appapi-manager.appapi.dev",
		LeaderElectionNamespace: election.namespace,
		LeaseDuration:           &election.leaseDuration,
		RenewDeadline:           &election.renewDeadline,
		RetryPeriod:             &election.retryPeriod,
		// On SIGTERM the manager stops its controllers and waits for their
		// reconciles to end (up to its graceful shutdown timeout), then
		// gives up the lease, and main exits as soon as Start returns: as
		// nothing this process does follows the release, the other
		// replica may take over at once instead of waiting for the lease
		// to expire. A process that went on working after Start returned
		// must not release.
		LeaderElectionReleaseOnCancel: true,
	})
	if err != nil {
		log.Error(err, "unable to create the manager")
		os.Exit(1)
	}
	ctx := ctrl.SetupSignalHandler()
	if err := controllers.Setup(ctx, mgr, opts); err != nil {
		log.Error(err, "unable to set up the controllers")
		os.Exit(1)
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		log.Error(err, "unable to add the health check")
		os.Exit(1)
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		log.Error(err, "unable to add the readiness check")
		os.Exit(1)
	}
	log.Info("starting the manager", "gatewayImage", opts.GatewayImage)
	if err := mgr.Start(ctx); err != nil {
		log.Error(err, "the manager stopped with an error")
		os.Exit(1)
	}
}

// leaderElection holds the lease settings. The timings default to
// controller-runtime's own; tests shorten them to fail over quickly.
type leaderElection struct {
	namespace                                 string
	leaseDuration, renewDeadline, retryPeriod time.Duration
}

func (e *leaderElection) bindFlags(fs *flag.FlagSet) {
	fs.StringVar(&e.namespace, "leader-election-namespace", "",
		"Namespace of the leader election Lease; required outside a cluster, where the Pod's own namespace is unknown.")
	fs.DurationVar(&e.leaseDuration, "leader-election-lease-duration", 15*time.Second,
		"How long the other replicas wait, after the leader's last renewal, before one takes over. Whole seconds.")
	fs.DurationVar(&e.renewDeadline, "leader-election-renew-deadline", 10*time.Second,
		"How long the leader keeps trying to renew before it stops reconciling and exits; shorter than the lease duration.")
	fs.DurationVar(&e.retryPeriod, "leader-election-retry-period", 2*time.Second,
		"How often replicas try to acquire or renew the lease.")
}

// validate refuses a lease duration that is not whole seconds: the Lease
// stores it in seconds, and the other replicas wait for what it stores, so
// 1500ms would let one take over after 1s while the leader still counts on
// 1.5s. client-go checks how the three durations compare.
func (e *leaderElection) validate() error {
	if e.leaseDuration%time.Second != 0 {
		return errors.New("--leader-election-lease-duration must be a whole number of seconds")
	}
	return nil
}
