// Package metrics defines the gateway's Prometheus metrics. Labels are
// bounded by what the snapshot declares (AppAPI and step names), never by
// what a caller sends, so a caller cannot blow up the series count.
package metrics

import (
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/appapi-dev/appapi/api/v1alpha1"
)

// Metrics are the gateway's collectors, registered on their own registry.
type Metrics struct {
	Registry *prometheus.Registry

	requests        *prometheus.CounterVec
	requestDuration *prometheus.HistogramVec
	stepDuration    *prometheus.HistogramVec
	authFailures    *prometheus.CounterVec
	shed            prometheus.Counter
	panics          prometheus.Counter
	snapshotGen     prometheus.Gauge
	reloads         *prometheus.CounterVec
	routes          prometheus.Gauge
	tokens          prometheus.Gauge
	storeOps        *prometheus.CounterVec
	storeDuration   *prometheus.HistogramVec
}

// New registers the collectors, plus the Go and process collectors.
func New() *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "appapi_gateway_requests_total",
			Help: "Requests by AppAPI (\"\" when none matched), method and status code.",
		}, []string{"appapi", "method", "code"}),
		requestDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "appapi_gateway_request_duration_seconds",
			Help:    "Time from receiving a request to writing its response, by AppAPI.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2.5, 12),
		}, []string{"appapi"}),
		stepDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "appapi_gateway_step_duration_seconds",
			Help: "Time a pipeline step took, by AppAPI, step, operation (" +
				strings.Join(v1alpha1.StepOperations(), ", ") + ") and outcome (ok or error).",
			Buckets: prometheus.ExponentialBuckets(0.0001, 3, 12),
		}, []string{"appapi", "step", "operation", "outcome"}),
		authFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "appapi_gateway_auth_failures_total",
			Help: "Requests refused by authentication (401; 400 for a duplicated Authorization header) or API key filtering (403), by reason.",
		}, []string{"reason"}),
		shed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "appapi_gateway_requests_shed_total",
			Help: "Requests refused with 503 because the gateway was serving its maximum in flight.",
		}),
		panics: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "appapi_gateway_panics_total",
			Help: "Requests whose serving panicked: each was answered 500, or its connection closed if the answer had begun, and logged with its request ID. Any increase is a bug.",
		}),
		snapshotGen: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "appapi_gateway_snapshot_generation",
			Help: "Generation of the snapshot being served.",
		}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "appapi_gateway_snapshot_reloads_total",
			Help: "Snapshot loads by result: loaded, or rejected (the last good one stays).",
		}, []string{"result"}),
		routes: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "appapi_gateway_routes",
			Help: "AppAPIs served.",
		}),
		tokens: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "appapi_gateway_tokens",
			Help: "Token hashes accepted.",
		}),
		storeOps: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "appapi_gateway_store_operations_total",
			Help: "Datastore operations of store steps, by collection, operation (" + strings.Join(storeOperations, ", ") +
				") and outcome (" + strings.Join(StoreOutcomes, ", ") + ").",
		}, []string{"collection", "operation", "outcome"}),
		storeDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "appapi_gateway_store_operation_duration_seconds",
			Help:    "Time a datastore operation of a store step took, by operation.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 3, 12),
		}, []string{"operation"}),
	}
	m.Registry.MustRegister(m.requests, m.requestDuration, m.stepDuration, m.authFailures, m.shed, m.panics,
		m.snapshotGen, m.reloads, m.routes, m.tokens, m.storeOps, m.storeDuration,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Request records one answered request.
func (m *Metrics) Request(appAPI, method string, code int, d time.Duration) {
	m.requests.WithLabelValues(appAPI, method, strconv.Itoa(code)).Inc()
	m.requestDuration.WithLabelValues(appAPI).Observe(d.Seconds())
}

// StepDone records one step.
func (m *Metrics) StepDone(appAPI, step, operation string, d time.Duration, err error) {
	outcome := "ok"
	if err != nil {
		outcome = "error"
	}
	m.stepDuration.WithLabelValues(appAPI, step, operation, outcome).Observe(d.Seconds())
}

// storeOperations are the operations of a store step.
var storeOperations = []string{string(v1alpha1.StoreInsert), string(v1alpha1.StoreGet), string(v1alpha1.StoreQuery),
	string(v1alpha1.StorePut), string(v1alpha1.StorePatch), string(v1alpha1.StoreDelete)}

// StoreOutcomes are the outcomes of a datastore operation: ok, or the
// failure the datastore reported.
var StoreOutcomes = []string{"ok", "not_found", "conflict", "precondition_failed", "invalid", "too_large", "unavailable", "error"}

// StoreDone records one datastore operation. The collection label is
// bounded like the AppAPI label: collections are named in the snapshot, by
// whoever writes the AppAPIs, never by a caller.
func (m *Metrics) StoreDone(collection, operation, outcome string, d time.Duration) {
	m.storeOps.WithLabelValues(collection, operation, outcome).Inc()
	m.storeDuration.WithLabelValues(operation).Observe(d.Seconds())
}

// AuthFailure records a refused request.
func (m *Metrics) AuthFailure(reason string) { m.authFailures.WithLabelValues(reason).Inc() }

// Shed records a request refused because too many were in flight.
func (m *Metrics) Shed() { m.shed.Inc() }

// Panic records a request whose serving panicked.
func (m *Metrics) Panic() { m.panics.Inc() }

// Loaded records a snapshot that is now served.
func (m *Metrics) Loaded(generation int64, routes, tokens int) {
	m.reloads.WithLabelValues("loaded").Inc()
	m.snapshotGen.Set(float64(generation))
	m.routes.Set(float64(routes))
	m.tokens.Set(float64(tokens))
}

// Rejected records a snapshot that was not loaded.
func (m *Metrics) Rejected() { m.reloads.WithLabelValues("rejected").Inc() }
