package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/appapi-dev/appapi/api/v1alpha1"
	"github.com/appapi-dev/appapi/gateway/auth"
	"github.com/appapi-dev/appapi/gateway/pipeline"
	"github.com/appapi-dev/appapi/gateway/problem"
)

// exchange is one request on its way through the gateway, with what the
// access log and metrics report about it.
type exchange struct {
	w         *statusWriter
	r         *http.Request
	requestID string
	appAPI    string
	token     string
}

func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := g.now()
	x := &exchange{w: &statusWriter{ResponseWriter: w}, r: r, requestID: requestID(r)}
	x.w.Header().Set("X-Request-Id", x.requestID)
	defer func() {
		d := g.now().Sub(start)
		g.metrics.Request(x.appAPI, methodLabel(r.Method), x.w.status(), d)
		// Attrs rather than key-value pairs: the same line, without
		// boxing each value in an interface.
		g.log.LogAttrs(r.Context(), slog.LevelInfo, "request", slog.String("method", r.Method), slog.String("path", boundedPath(r.URL.Path)),
			slog.String("appapi", x.appAPI), slog.Int("status", x.w.status()), slog.Float64("duration_ms", float64(d.Microseconds())/1000),
			slog.Int("bytes", x.w.bytes), slog.String("token", x.token), slog.String("request_id", x.requestID))
	}()
	// After the access log's defer, so that it runs first and the log
	// records the 500 it writes.
	defer g.recoverPanic(x)
	g.serve(x, start)
}

// serve routes, authenticates, reads and runs one request, and answers it.
func (g *Gateway) serve(x *exchange, start time.Time) {
	r := x.r
	cfg, done := g.config()
	defer done()
	if cfg == nil {
		g.fail(x, http.StatusServiceUnavailable, "No configuration", "the gateway has not loaded a snapshot yet; retry shortly", nil)
		return
	}
	match, status, allow := cfg.Router.Lookup(r.Method, r.URL.Path)
	switch status {
	case http.StatusNotFound:
		g.fail(x, status, "", "no App API serves this path", nil)
		return
	case http.StatusMethodNotAllowed:
		x.w.Header().Set("Allow", allow)
		g.fail(x, status, "", "this path answers "+allow, nil)
		return
	}
	endpoint := match.Handler
	x.appAPI = endpoint.Source.Name
	token, ok := g.authenticate(x, cfg, endpoint)
	if !ok {
		return
	}
	query, err := endpoint.ParseQuery(r.URL.RawQuery)
	if err != nil {
		g.runFailed(x, r.Context(), err)
		return
	}
	settings := cfg.Snapshot.Settings
	timeout := time.Duration(settings.RequestTimeout)
	// An answer must be written within the request timeout and a grace:
	// a caller that does not read cannot hold its connection longer.
	rc := http.NewResponseController(x.w)
	_ = rc.SetWriteDeadline(start.Add(timeout + g.limits.WriteGrace))
	var body []byte
	if r.ContentLength != 0 {
		charge := &charge{b: &g.budget}
		defer charge.release() // once the answer is written: it may echo the body
		var ok bool
		if body, ok = g.receive(x, rc, charge, start.Add(timeout), settings.MaxRequestBytes); !ok {
			return
		}
		_ = rc.SetWriteDeadline(time.Now().Add(timeout + g.limits.WriteGrace))
	}
	params := make(map[string]string, len(match.Params))
	for _, p := range match.Params {
		params[p.Name] = p.Value
	}
	// The pipeline's slot is taken only now, with the body read and paid
	// for, and given back before the answer is written: slow senders and
	// slow readers hold connections, never pipelines.
	if !g.inFlight.tryAcquire() {
		g.overloaded(x, "the gateway is serving as many requests as it may; retry shortly")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	defer cancel()
	ans, err := g.run(ctx, cfg, endpoint, &pipeline.Incoming{
		Method: r.Method, Path: r.URL.Path, Params: params, Query: query, Header: r.Header, Body: body,
	}, token)
	switch {
	case errors.Is(err, errTooDeep) || errors.Is(err, errNotJSON):
		g.fail(x, http.StatusInternalServerError, pipeline.TitleInvalidValue, err.Error(), nil)
	case err != nil:
		g.runFailed(x, ctx, err)
	default:
		ans.write(x.w)
		ans.release()
	}
}

// config returns the config to serve a request with, having entered its
// datastore: done leaves it, once the answer is written. A datastore
// retired between reading the config and entering it belongs to a config
// that was just replaced, so the new one is read again; at shutdown, when
// the config stays, the request is served and its store steps answer 503.
func (g *Gateway) config() (cfg *config, done func()) {
	for {
		cfg := g.current.Load()
		if cfg == nil || cfg.datastore == nil {
			return cfg, func() {}
		}
		if cfg.datastore.enter() {
			return cfg, cfg.datastore.leave
		}
		if g.current.Load() == cfg {
			return cfg, func() {}
		}
	}
}

// receive reads a request's body, under the bound of body readers and the
// memory budget, within the request's deadline and the idle timeout. It
// answers the request itself when the body cannot be taken.
func (g *Gateway) receive(x *exchange, rc *http.ResponseController, c *charge, deadline time.Time, maxBytes int64) ([]byte, bool) {
	if !g.readers.tryAcquire() {
		g.overloaded(x, "the gateway is reading as many request bodies as it may; retry shortly")
		return nil, false
	}
	body, rerr := readBody(x.r, bodyReading{maxBytes: maxBytes, deadline: deadline, idle: g.limits.BodyIdleTimeout, rc: rc, charge: c})
	g.readers.release()
	if rerr == nil {
		cost := bodyCost(x.r.Header.Get("Content-Type"), body)
		switch {
		case g.budget.limit != 0 && cost > g.budget.limit:
			rerr = &refusal{status: http.StatusRequestEntityTooLarge, title: "Payload too large", detail: fmt.Sprintf(
				"serving this request body would take about %d MiB, more than the gateway's memory limit of %d MiB; send a smaller or simpler one",
				cost>>20, g.budget.limit>>20)}
		case !c.growTo(cost):
			rerr = &refusal{status: http.StatusServiceUnavailable, title: "Overloaded",
				detail: "the gateway's memory limit has no room for another request body; retry shortly"}
		}
	}
	switch {
	case rerr == nil:
	case rerr.status == http.StatusServiceUnavailable:
		g.overloaded(x, rerr.detail)
		return nil, false
	default:
		// The read deadline stays: net/http must not wait for the rest
		// of a body that is not coming before it answers.
		g.fail(x, rerr.status, rerr.title, rerr.detail, nil)
		return nil, false
	}
	// Lift it once the body is read: net/http keeps reading in the
	// background to notice a client going away, and a deadline hit there
	// would cancel the request as if the client had left.
	_ = rc.SetReadDeadline(time.Time{})
	return body, true
}

// run runs a pipeline in one of the in-flight slots, which the caller has
// taken, and encodes its answer; the slot is given back when it returns,
// even if the pipeline panics.
func (g *Gateway) run(ctx context.Context, cfg *config, endpoint *pipeline.Endpoint, in *pipeline.Incoming, token map[string]any) (*answer, error) {
	defer g.inFlight.release()
	result, err := endpoint.Serve(ctx, cfg.Runtime, in, token)
	if err != nil {
		return nil, err
	}
	return encodeResult(result)
}

// methodLabel is the method as a metric label. net/http accepts any token
// as a method, so a caller could otherwise add a series per made-up method.
func methodLabel(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return method
	}
	return "OTHER"
}

// authenticate applies the AppAPI's authentication and API key filtering.
func (g *Gateway) authenticate(x *exchange, cfg *config, endpoint *pipeline.Endpoint) (map[string]any, bool) {
	a := endpoint.Source.Authentication
	if a.Mode == v1alpha1.AuthenticationNone {
		return map[string]any{}, true
	}
	tok, failure := cfg.Tokens.Authenticate(x.r.Header["Authorization"], g.now())
	switch failure {
	case "":
	case auth.FailureDuplicated:
		g.metrics.AuthFailure(string(failure))
		g.fail(x, http.StatusBadRequest, "", "the request has more than one Authorization header; send one", nil)
		return nil, false
	default:
		g.metrics.AuthFailure(string(failure))
		auth.SetChallenge(x.w.Header(), failure)
		g.fail(x, http.StatusUnauthorized, "", unauthorizedDetail[failure], nil)
		return nil, false
	}
	x.token = tok.Name
	if len(a.AllowedTokens) > 0 && !slices.Contains(a.AllowedTokens, tok.Name) {
		g.metrics.AuthFailure("not_allowed")
		g.fail(x, http.StatusForbidden, "", "this token may not call this App API", nil)
		return nil, false
	}
	return map[string]any{"name": tok.Name, "id": tok.ID}, true
}

var unauthorizedDetail = map[auth.Failure]string{
	auth.FailureMissing:   "send an API token as Authorization: Bearer <token>",
	auth.FailureMalformed: "the Authorization header is not Bearer <token>",
	auth.FailureUnknown:   "the token is not valid for this environment",
	auth.FailureExpired:   "the token has expired",
}

// runFailed answers a pipeline that did not finish.
func (g *Gateway) runFailed(x *exchange, ctx context.Context, err error) {
	var perr *pipeline.RunError
	switch {
	case errors.As(err, &perr):
		g.failWith(x, perr)
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded):
		g.fail(x, http.StatusGatewayTimeout, "Request timed out", "the App API did not finish within the environment's request timeout", nil)
	case x.r.Context().Err() != nil:
		// The client went away: nobody reads an answer. 499 is what
		// the access log and metrics record, as nginx does.
		x.w.code = 499
	default:
		g.log.Error("pipeline failed", "appapi", x.appAPI, "request_id", x.requestID, "error", err.Error())
		g.fail(x, http.StatusInternalServerError, "", "the App API failed; the gateway's log has the request ID", nil)
	}
}

func (g *Gateway) failWith(x *exchange, e *pipeline.RunError) {
	if e.Status >= http.StatusInternalServerError {
		// The access log says only the status; this says why. Details
		// are written for callers, so they hold no secret or address.
		g.log.Warn("request failed", "appapi", x.appAPI, "request_id", x.requestID,
			"step", e.Step, "status", e.Status, "title", e.Title, "detail", e.Detail)
	}
	detail := e.Detail
	if e.Step != "" {
		detail = "step " + e.Step + ": " + detail
	}
	if e.RetryAfter > 0 {
		x.w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(e.RetryAfter.Seconds()))))
	}
	var violations []problem.Violation
	for _, v := range e.Violations {
		violations = append(violations, problem.Violation{Pointer: v.Pointer, Message: v.Message})
	}
	g.fail(x, e.Status, e.Title, detail, violations)
}

func (g *Gateway) fail(x *exchange, status int, title, detail string, violations []problem.Violation) {
	problem.Write(x.w, problem.Problem{Status: status, Title: title, Detail: detail,
		Instance: boundedPath(x.r.URL.Path), RequestID: x.requestID, Errors: violations})
}

// maxEchoedPath bounds the path that problem documents and the access log
// repeat: a path may be as long as net/http lets a request line be (about
// 1 MB), and repeated whole it would let every caller multiply what the
// gateway writes. Paths that App APIs serve are far shorter.
const maxEchoedPath = 1024

// truncatedMarker ends a path cut to maxEchoedPath.
const truncatedMarker = "...(truncated)"

// boundedPath is p when it is at most maxEchoedPath bytes, and otherwise
// its start, cut before a UTF-8 character, and truncatedMarker, together
// maxEchoedPath bytes at most.
func boundedPath(p string) string {
	if len(p) <= maxEchoedPath {
		return p
	}
	cut := maxEchoedPath - len(truncatedMarker)
	for cut > 0 && !utf8.RuneStart(p[cut]) {
		cut--
	}
	return p[:cut] + truncatedMarker
}

// requestID echoes a caller's X-Request-Id when it is sane, so a request
// can be followed across services, and makes one otherwise.
func requestID(r *http.Request) string {
	id := r.Header.Get("X-Request-Id")
	if id != "" && len(id) <= 128 && !strings.ContainsFunc(id, func(c rune) bool { return c < 0x21 || c > 0x7e }) {
		return id
	}
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// statusWriter remembers what was written, for the access log and metrics.
type statusWriter struct {
	http.ResponseWriter
	code  int
	bytes int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += n
	return n, err
}

// Unwrap lets http.ResponseController reach the connection.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *statusWriter) status() int {
	if w.code == 0 {
		return http.StatusOK
	}
	return w.code
}
