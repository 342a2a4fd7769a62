// Package translate turns one Environment's resources into its snapshot and
// says, for each AppAPI, whether it was accepted and which generation is
// served. It reads nothing and writes nothing: the controllers feed it from
// the API server and the gateway's local mode feeds it from files, so both
// publish the same thing for the same manifests.
package translate

import (
	"cmp"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/types"

	"github.com/appapi-dev/appapi/api/v1alpha1"
	"github.com/appapi-dev/appapi/gateway/expr"
	"github.com/appapi-dev/appapi/gateway/pathtemplate"
	"github.com/appapi-dev/appapi/gateway/pipeline"
	"github.com/appapi-dev/appapi/internal/snapshot"
)

// Input is everything that decides one Environment's snapshot.
type Input struct {
	Environment *v1alpha1.Environment
	// SecretValues are the resolved values of Environment.spec.secrets by name.
	SecretValues map[string]string
	// DatastoreURL is the URL of the Environment's PostgreSQL datastore
	// (Secrets.DatastoreURL), or "" when it has none or it cannot be used:
	// then store steps are refused, as without a datastore.
	DatastoreURL string
	// AppAPIs are the AppAPIs whose spec.environment names the Environment.
	AppAPIs []v1alpha1.AppAPI
	// TokenNames are the ApiTokens of the Environment, published or not:
	// allowedTokens may name a token that is still being minted.
	TokenNames []string
	// Tokens are the token hashes to publish.
	Tokens []snapshot.Token
	// Previous is the last published snapshot, or nil. Its routes are kept
	// for AppAPIs whose current generation is refused.
	Previous *snapshot.Snapshot
}

// Output is the snapshot and the verdict on each AppAPI.
type Output struct {
	// Snapshot has no generation: the publisher's snapshot.Sequencer numbers it.
	Snapshot *snapshot.Snapshot
	// AppAPIs is keyed by AppAPI name.
	AppAPIs map[string]Verdict
}

// Verdict is the verdict on one AppAPI.
type Verdict struct {
	// Generation is the AppAPI generation that was judged.
	Generation int64           `json:"generation"`
	Accepted   bool            `json:"accepted"`
	Reason     v1alpha1.Reason `json:"reason"`
	Message    string          `json:"message"`
	// ServedGeneration is the generation in the snapshot, or 0 when none is.
	ServedGeneration int64 `json:"servedGeneration"`
}

// Translator memoises the expensive part of translation, compiling each
// AppAPI's expressions and schemas, by the content of its spec. Compiling
// 10,000 AppAPIs takes seconds, re-using the results takes milliseconds. Use
// one Translator per Environment: each call forgets the specs it did not see.
type Translator struct {
	env   *expr.Compiler
	mu    sync.Mutex
	cache map[[sha256.Size]byte]error
	// digests remembers the content digest of each AppAPI generation the
	// API server numbered, so that an unchanged AppAPI is not encoded
	// again to find its digest: at 10,000 AppAPIs that encoding was most
	// of a translation.
	digests map[generationKey][sha256.Size]byte
}

// generationKey names one generation of one AppAPI object. The API server
// gives a new generation to every change of an AppAPI's spec, which is all
// a route is made of besides the object's name (see RouteOf).
type generationKey struct {
	uid        types.UID
	name       string
	generation int64
}

// New returns a Translator that compiles with env.
func New(env *expr.Compiler) *Translator {
	return &Translator{env: env, cache: map[[sha256.Size]byte]error{}, digests: map[generationKey][sha256.Size]byte{}}
}

// candidate is an AppAPI on its way into the snapshot.
type candidate struct {
	app *v1alpha1.AppAPI
	// judged and judgedRoute are the verdict and route of the AppAPI alone,
	// before paths and calls across AppAPIs are resolved.
	judged      Verdict
	judgedRoute *snapshot.Route
	// callRefusal, once set, takes the route out for good: its calls do
	// not resolve.
	callRefusal *Verdict
	result      Verdict
	route       *snapshot.Route // nil when no generation is served
	key         string          // method and path key of route
}

// Translate builds the snapshot. Problems with one AppAPI never affect
// another, except that an AppAPI calling a refused one cannot be served.
func (t *Translator) Translate(in Input) (*Output, error) {
	env := in.Environment
	settings, err := settingsOf(env)
	if err != nil {
		return nil, err
	}
	// Positions are sorted, not the AppAPIs: moving 10,000 structs of a
	// kilobyte each cost more than the rest of a translation that reuses
	// its compilations. Translate never writes to the AppAPIs.
	// Objects without a creationTimestamp keep their list order: the
	// position breaks ties, which lets an unstable sort (a tenth of the
	// time of a stable one at 10,000 AppAPIs) give the stable order.
	order := make([]int, len(in.AppAPIs))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int {
		return cmp.Or(olderFirst(&in.AppAPIs[a], &in.AppAPIs[b]), cmp.Compare(a, b))
	})
	apps := make([]*v1alpha1.AppAPI, len(order))
	for i, j := range order {
		apps[i] = &in.AppAPIs[j]
	}

	t.mu.Lock()
	seen := make(map[[sha256.Size]byte]bool, len(apps))
	seenGenerations := make(map[generationKey]bool, len(apps))
	cands := make([]*candidate, 0, len(apps))
	for _, app := range apps {
		cands = append(cands, t.judge(app, in, seen, seenGenerations))
	}
	for k := range t.cache {
		if !seen[k] {
			delete(t.cache, k)
		}
	}
	for k := range t.digests {
		if !seenGenerations[k] {
			delete(t.digests, k)
		}
	}
	t.mu.Unlock()

	resolveAcrossAppAPIs(cands)

	out := &Output{AppAPIs: make(map[string]Verdict, len(cands))}
	snap := &snapshot.Snapshot{
		Header: snapshot.Header{Version: snapshot.Version, Namespace: env.Namespace, Environment: env.Name, Settings: settings,
			Variables: env.Spec.Variables, Datastore: datastoreOf(in)},
		Credentials: snapshot.Credentials{Tokens: sortedTokens(in.Tokens), Secrets: in.SecretValues},
	}
	if snap.Datastore != nil && snap.Datastore.Kind == snapshot.DatastorePostgres {
		// Only in the credentials: the header is published in ConfigMaps.
		snap.Credentials.DatastoreURL = in.DatastoreURL
	}
	for _, c := range cands {
		if c.route != nil {
			snap.Routes = append(snap.Routes, *c.route)
			c.result.ServedGeneration = c.route.Generation
		}
		out.AppAPIs[c.app.Name] = c.result
	}
	slices.SortFunc(snap.Routes, func(a, b snapshot.Route) int { return strings.Compare(a.Name, b.Name) })
	out.Snapshot = snap
	return out, nil
}

// judge decides one AppAPI's verdict and the route it would serve, before
// paths and calls across AppAPIs are considered.
func (t *Translator) judge(app *v1alpha1.AppAPI, in Input, seen map[[sha256.Size]byte]bool, seenGenerations map[generationKey]bool) *candidate {
	c := &candidate{app: app, result: Verdict{Generation: app.Generation}}
	route := RouteOf(app)
	// Before compiling: whether a store step compiles does not matter
	// where nothing could run it.
	err := checkDatastore(route, in)
	if err == nil {
		err = t.compile(app, route, seen, seenGenerations)
	}
	if err == nil {
		err = checkReferences(route, in)
	}
	if err == nil {
		c.result.Accepted, c.result.Reason, c.result.Message = true, v1alpha1.ReasonAccepted, "the current generation is valid"
		c.route = route
	} else {
		c.result.Reason, c.result.Message = v1alpha1.ReasonInvalidSpec, err.Error()
		var perr *pipeline.CompileError
		if errors.As(err, &perr) {
			c.result.Reason = perr.Reason
		}
		c.route = previousRoute(in.Previous, app)
	}
	if c.route != nil {
		// The path parsed when the route was accepted.
		tmpl, _ := pathtemplate.Parse(c.route.Path)
		c.key = c.route.Method + " " + tmpl.Key()
	}
	c.judged, c.judgedRoute = c.result, c.route
	return c
}

func (t *Translator) compile(app *v1alpha1.AppAPI, route *snapshot.Route, seen map[[sha256.Size]byte]bool, seenGenerations map[generationKey]bool) error {
	key, err := t.digest(app, route, seenGenerations)
	if err != nil {
		return err
	}
	seen[key] = true
	if err, ok := t.cache[key]; ok {
		return err
	}
	_, err = pipeline.Compile(t.env, route)
	t.cache[key] = err
	return err
}

// digest is the SHA-256 of route's JSON, remembered by the generation of
// app it came from. Only objects an API server stored (they carry a
// resourceVersion) are remembered: local mode gives its manifests a UID and
// generation 1 whatever their content, so they are encoded every time.
func (t *Translator) digest(app *v1alpha1.AppAPI, route *snapshot.Route, seenGenerations map[generationKey]bool) ([sha256.Size]byte, error) {
	gk := generationKey{uid: app.UID, name: app.Name, generation: app.Generation}
	numbered := app.ResourceVersion != "" && app.UID != "" && app.Generation > 0
	if numbered {
		seenGenerations[gk] = true
		if d, ok := t.digests[gk]; ok {
			return d, nil
		}
	}
	spec, err := json.Marshal(route)
	if err != nil {
		return [sha256.Size]byte{}, err
	}
	d := sha256.Sum256(spec)
	if numbered {
		t.digests[gk] = d
	}
	return d, nil
}

// checkReferences checks the names a route uses that live elsewhere in the
// Environment: tokens and secrets. Calls are checked across routes later.
func checkReferences(r *snapshot.Route, in Input) error {
	for _, name := range r.Authentication.AllowedTokens {
		if !slices.Contains(in.TokenNames, name) {
			return &pipeline.CompileError{Reason: v1alpha1.ReasonTokenNotFound, Field: "spec.authentication.allowedTokens",
				Message: fmt.Sprintf("no ApiToken %q of environment %q exists in namespace %q", name, in.Environment.Name, in.Environment.Namespace)}
		}
	}
	for i, st := range r.Steps {
		if st.JWT == nil {
			continue
		}
		if _, ok := in.SecretValues[st.JWT.Key]; ok {
			continue
		}
		message := fmt.Sprintf("environment %q has no secret %q: add it to the Environment's spec.secrets", in.Environment.Name, st.JWT.Key)
		for _, ref := range in.Environment.Spec.Secrets {
			if ref.Name == st.JWT.Key {
				message = fmt.Sprintf("the value of environment %q's secret %q, key %q of Secret %q, does not exist: create it",
					in.Environment.Name, st.JWT.Key, ref.SecretKeyRef.Key, ref.SecretKeyRef.Name)
			}
		}
		return &pipeline.CompileError{Reason: v1alpha1.ReasonSecretRefNotFound, Field: fmt.Sprintf("spec.steps[%d].jwt.key", i), Message: message}
	}
	return nil
}

// checkDatastore refuses a route with a store step when the Environment
// has no datastore the gateway can open. The fix is in the Environment (or
// its Secret), so the AppAPI is accepted once it is made, without an edit.
func checkDatastore(r *snapshot.Route, in Input) error {
	if datastoreOf(in) != nil {
		return nil
	}
	env := in.Environment
	for i, st := range r.Steps {
		if st.Store == nil {
			continue
		}
		message := fmt.Sprintf("step %q is a store step, but environment %q has no spec.datastore: give it one (sqlite or postgres), or remove the step",
			st.Name, env.Name)
		if ds := env.Spec.Datastore; ds != nil && ds.Postgres != nil {
			message = fmt.Sprintf("step %q is a store step, but the URL of environment %q's PostgreSQL datastore (key %q of Secret %q) cannot be used: the Environment's Ready condition says why",
				st.Name, env.Name, ds.Postgres.SecretKeyRef.Key, ds.Postgres.SecretKeyRef.Name)
		}
		return &pipeline.CompileError{Reason: v1alpha1.ReasonNoDatastore, Field: fmt.Sprintf("spec.steps[%d].store", i), Message: message}
	}
	return nil
}

// datastoreOf is the datastore the gateway opens for the Environment: none
// when it names none, or names PostgreSQL whose URL cannot be used.
func datastoreOf(in Input) *snapshot.Datastore {
	ds := in.Environment.Spec.Datastore
	switch {
	case ds == nil:
		return nil
	case ds.SQLite != nil:
		return &snapshot.Datastore{Kind: snapshot.DatastoreSQLite}
	case ds.Postgres != nil && in.DatastoreURL != "":
		return &snapshot.Datastore{Kind: snapshot.DatastorePostgres}
	}
	return nil
}

// resolveAcrossAppAPIs settles what depends on several AppAPIs: who holds a
// path, and whether calls resolve. A route dropped for its calls releases
// its path, which may let a newer AppAPI have it, whose calls are then
// checked in turn; refusals for calls only accumulate, so this ends.
func resolveAcrossAppAPIs(cands []*candidate) {
	for {
		for _, c := range cands {
			c.result, c.route = c.judged, c.judgedRoute
			if c.callRefusal != nil {
				refuse(c, c.callRefusal.Reason, c.callRefusal.Message)
			}
		}
		claimPaths(cands)
		if !dropBrokenCalls(cands) {
			return
		}
	}
}

// claimPaths gives each method and path to the first AppAPI, in olderFirst
// order, that serves it, and tells the others why.
func claimPaths(cands []*candidate) {
	owner := make(map[string]*candidate, len(cands))
	for _, c := range cands { // oldest first
		if c.route == nil {
			continue
		}
		o, taken := owner[c.key]
		if !taken {
			owner[c.key] = c
			continue
		}
		if c.result.Accepted {
			c.result.Accepted, c.result.Reason = false, v1alpha1.ReasonPathConflict
			c.result.Message = fmt.Sprintf("%s %s is already served by AppAPI %q, which %s; change the method or path, or delete %q",
				c.route.Method, c.route.Path, o.app.Name, precedence(o.app, c.app), o.app.Name)
		}
		c.route = nil
	}
}

// dropBrokenCalls removes routes that call a route that is not served or
// that take part in a call cycle, until every remaining call resolves, and
// reports whether it removed any.
func dropBrokenCalls(cands []*candidate) bool {
	dropped := false
	for {
		served := make(map[string]*candidate, len(cands))
		// Only routes with call steps can be in a cycle; most have none.
		var calling []snapshot.Route
		for _, c := range cands {
			if c.route != nil {
				served[c.app.Name] = c
				if hasCall(c.route) {
					calling = append(calling, *c.route)
				}
			}
		}
		changed := false
		for _, c := range served {
			for i, st := range c.route.Steps {
				if st.Call == nil {
					continue
				}
				field := fmt.Sprintf("spec.steps[%d].call.appAPI", i)
				callee := served[st.Call.AppAPI]
				if callee == nil {
					refuseCalls(c, v1alpha1.ReasonCallNotFound, fmt.Sprintf("%s: no AppAPI %q is served in environment %q",
						field, st.Call.AppAPI, c.app.Spec.Environment))
				} else if why := widensAccess(c.route.Authentication, callee.route.Authentication); why != "" {
					refuseCalls(c, v1alpha1.ReasonCallNotAllowed, fmt.Sprintf("%s: AppAPI %q %s; a call must not let more callers in than the called AppAPI does",
						field, st.Call.AppAPI, why))
				} else {
					continue
				}
				changed, dropped = true, true
				break
			}
		}
		if changed {
			continue
		}
		cycle := snapshot.FindCallCycle(calling)
		if cycle == nil {
			return dropped
		}
		for _, name := range cycle {
			if c := served[name]; c != nil && c.route != nil {
				refuseCalls(c, v1alpha1.ReasonCallCycle, "call steps form a cycle: "+strings.Join(cycle, " -> "))
				dropped = true
			}
		}
	}
}

func hasCall(r *snapshot.Route) bool {
	return slices.ContainsFunc(r.Steps, func(st v1alpha1.Step) bool { return st.Call != nil })
}

// widensAccess says how a caller with authentication from would let in
// callers that the called AppAPI, with authentication to, refuses; "" when
// it does not. A call runs the called pipeline without its authentication,
// so the caller's must be at least as strict.
func widensAccess(from, to v1alpha1.Authentication) string {
	if to.Mode != v1alpha1.AuthenticationToken {
		return ""
	}
	if from.Mode != v1alpha1.AuthenticationToken {
		return "requires a token and this AppAPI does not"
	}
	if len(to.AllowedTokens) == 0 {
		return ""
	}
	if len(from.AllowedTokens) == 0 {
		return fmt.Sprintf("accepts only the tokens %v and this AppAPI accepts every token", to.AllowedTokens)
	}
	for _, name := range from.AllowedTokens {
		if !slices.Contains(to.AllowedTokens, name) {
			return fmt.Sprintf("does not accept the token %q that this AppAPI accepts", name)
		}
	}
	return ""
}

// refuseCalls refuses a candidate for its calls, and remembers it.
func refuseCalls(c *candidate, reason v1alpha1.Reason, message string) {
	c.callRefusal = &Verdict{Reason: reason, Message: message}
	refuse(c, reason, message)
}

// refuse takes a candidate's route out of the snapshot. An accepted
// generation becomes refused; a kept older generation is simply no longer served.
func refuse(c *candidate, reason v1alpha1.Reason, message string) {
	if c.result.Accepted {
		c.result.Accepted, c.result.Reason, c.result.Message = false, reason, message
	}
	c.route = nil
}

func previousRoute(prev *snapshot.Snapshot, app *v1alpha1.AppAPI) *snapshot.Route {
	if prev == nil {
		return nil
	}
	for i := range prev.Routes {
		r := &prev.Routes[i]
		if r.Name == app.Name && r.UID == string(app.UID) {
			return r
		}
	}
	return nil
}

// RouteOf is the route an AppAPI's current generation would serve, before
// it is checked.
func RouteOf(app *v1alpha1.AppAPI) *snapshot.Route {
	r := &snapshot.Route{
		Name: app.Name, UID: string(app.UID), Generation: app.Generation,
		Method: app.Spec.Method, Path: app.Spec.Path, Query: app.Spec.Query,
		Authentication: app.Spec.Authentication, Steps: app.Spec.Steps, Response: app.Spec.Response,
	}
	if r.Authentication.Mode == "" {
		r.Authentication.Mode = v1alpha1.AuthenticationToken
	}
	if app.Spec.RequestSchema != nil {
		r.RequestSchema = app.Spec.RequestSchema.Raw
	}
	return r
}

func settingsOf(env *v1alpha1.Environment) (snapshot.Settings, error) {
	s := snapshot.Settings{MaxRequestBytes: v1alpha1.DefaultMaxRequestBytes}
	if env.Spec.MaxRequestBytes != nil {
		s.MaxRequestBytes = *env.Spec.MaxRequestBytes
	}
	timeout, err := env.Spec.RequestTimeout.Parse(v1alpha1.DefaultRequestTimeout)
	if err != nil || timeout <= 0 {
		return s, fmt.Errorf("spec.requestTimeout %q is not a positive duration", string(env.Spec.RequestTimeout))
	}
	s.RequestTimeout = snapshot.Duration(timeout)
	return s, nil
}

// sortedTokens sorts tokens, so that the snapshot does not change with the
// order they were listed in. Expired tokens stay: the gateway refuses them by
// their expiry, and can then tell a caller the token expired rather than
// that it is unknown. A rotated token leaves when its ApiToken's record
// forgets it at the end of its grace period.
func sortedTokens(tokens []snapshot.Token) []snapshot.Token {
	out := slices.Clone(tokens)
	slices.SortFunc(out, func(a, b snapshot.Token) int {
		return cmp.Or(strings.Compare(a.Name, b.Name), strings.Compare(a.ID, b.ID))
	})
	return out
}

// olderFirst orders AppAPIs for claimPaths, so that the older of two
// AppAPIs with the same path keeps it whatever order they are listed in:
// by creation time, then name (creation times have whole seconds). Objects
// an API server stored all have one. The gateway's local mode lists its
// manifests in file order, and those without metadata.creationTimestamp
// have none: they come after those with one, in the order listed (the sort
// is stable), as objects not created yet, which kubectl apply -R -f would
// create in that order.
func olderFirst(a, b *v1alpha1.AppAPI) int {
	switch az, bz := a.CreationTimestamp.IsZero(), b.CreationTimestamp.IsZero(); {
	case az && bz:
		return 0
	case az:
		return 1
	case bz:
		return -1
	}
	return cmp.Or(a.CreationTimestamp.Time.Compare(b.CreationTimestamp.Time), strings.Compare(a.Name, b.Name))
}

// precedence says, truthfully in either mode, why holder keeps a method and
// path that app also serves: olderFirst put holder first.
func precedence(holder, app *v1alpha1.AppAPI) string {
	switch {
	case holder.CreationTimestamp.IsZero():
		return "comes first in the manifests (by file, then document), and neither has a creationTimestamp"
	case app.CreationTimestamp.IsZero():
		return "has a creationTimestamp, so was created before this one, which has none"
	case holder.CreationTimestamp.Equal(&app.CreationTimestamp):
		return "was created in the same second and comes first by name"
	default:
		return "is older"
	}
}
