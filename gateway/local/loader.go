// Package local is the gateway's local mode: it reads AppAPI, ApiToken,
// Environment and Secret manifests from a directory and builds the snapshot
// that the controllers would publish for them, with no cluster. Translation
// is the same code the controllers run (internal/translate), so a directory
// that works locally works when applied to a cluster.
//
// What the cluster keeps in Secrets, local mode keeps in a state directory:
// the signing key of local tokens and the hash of each token. A token is
// printed once, when it is minted, and never written anywhere.
package local

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/appapi-dev/appapi/api/v1alpha1"
	"github.com/appapi-dev/appapi/gateway/expr"
	"github.com/appapi-dev/appapi/internal/snapshot"
	"github.com/appapi-dev/appapi/internal/translate"
)

// Loader reads a manifests directory into snapshots. Keep one Loader for the
// life of the process: it remembers the previous snapshot, so that an AppAPI
// broken by an edit keeps serving its last accepted version, and the
// snapshot generation only increases. Its methods are safe for concurrent use.
type Loader struct {
	// Dir is the manifests directory, read recursively; only *.yaml, *.yml
	// and *.json files count, and hidden directories (.git, .appapi) are skipped.
	Dir string
	// StateDir is where token hashes and the local signing key are kept; it
	// is created (mode 0700) when missing. It is skipped when inside Dir.
	StateDir string
	// Environment is the Environment to serve, by name or namespace/name.
	// Empty means the only one, or if there are several, the first by name.
	Environment string
	// Out receives each newly minted token, once; os.Stdout when nil.
	Out io.Writer
	// Expr compiles expressions; a new environment when nil.
	Expr *expr.Compiler
	// Now is the clock; time.Now when nil.
	Now func() time.Time

	mu         sync.Mutex
	expr       *expr.Compiler
	translator *translate.Translator
	translated string // namespace/name of the Environment translator is for
	sequencer  snapshot.Sequencer
}

// Result is one Load.
type Result struct {
	// Snapshot is valid; its Generation starts at 1 and increases whenever
	// the content changed since the previous Load of the Loader.
	Snapshot *snapshot.Snapshot
	// Environment is the name of the Environment served.
	Environment string
	// Environments are the names of every Environment found, sorted.
	Environments []string
	// Verdicts are keyed by AppAPI name.
	Verdicts map[string]translate.Verdict
	// Warnings are human-readable: refused AppAPIs, documents that do not
	// parse, ignored kinds, missing secrets. They never hold a token or a
	// secret value.
	Warnings []string
}

// Load reads the directory and returns the snapshot. It fails only when
// nothing can be served: no Environment at all, the named Environment
// missing or invalid, or the state directory unusable. A broken document or
// AppAPI is a warning and everything else is still served; an AppAPI
// refused now but accepted in an earlier Load keeps its previous route.
//
// On error the Result, when not nil, carries the warnings that may explain
// it, and no snapshot.
func (l *Loader) Load() (*Result, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.Dir == "" || l.StateDir == "" {
		return nil, errors.New("local: Dir and StateDir must be set")
	}
	now := time.Now()
	if l.Now != nil {
		now = l.Now()
	}
	exprEnv, err := l.exprEnv()
	if err != nil {
		return nil, err
	}

	m, err := readDir(l.Dir, l.StateDir)
	if err != nil {
		return nil, err
	}
	res := &Result{Warnings: m.warnings, Environments: environmentNames(m)}
	chosen, err := l.chooseEnvironment(m, res)
	if err != nil {
		return res, err
	}
	env := chosen.obj
	res.Environment = env.Name
	checkEnvironmentNames(m, res)

	st, err := openState(l.StateDir)
	if err != nil {
		return res, err
	}
	ts, err := st.sync(m, env.Namespace, env.Name, now)
	if err != nil {
		return res, err
	}
	// Record before printing: a token printed but not recorded would never work.
	if err := st.save(); err != nil {
		return res, err
	}
	res.Warnings = append(res.Warnings, ts.warnings...)
	l.printTokens(ts.minted, res)

	in := translate.Input{Environment: env, SecretValues: resolveSecrets(m, chosen, res)}
	for _, name := range slices.Sorted(maps.Keys(ts.records)) {
		in.TokenNames = append(in.TokenNames, name)
		in.Tokens = append(in.Tokens, ts.records[name].Tokens(name)...)
	}
	in.Tokens = dropDuplicateHashes(in.Tokens, res)
	where := map[string]string{}
	refused := map[string]string{}
	for _, a := range m.apps {
		app := a.obj
		if app.Namespace != env.Namespace || app.Spec.Environment != env.Name {
			continue
		}
		app = app.DeepCopy()
		applyDefaults(app)
		if msg := checkSchema(app); msg != "" {
			refused[app.Name] = msg
			poison(app)
		}
		in.AppAPIs = append(in.AppAPIs, *app)
		where[app.Name] = a.at
	}

	key := env.Namespace + "/" + env.Name
	if l.translator == nil || l.translated != key {
		// A Translator, like a previous snapshot, serves one Environment.
		l.translator, l.translated = translate.New(exprEnv), key
	}
	if prev := l.sequencer.Last(); prev != nil && prev.Namespace == env.Namespace && prev.Environment == env.Name {
		in.Previous = prev
	}
	out, err := l.translator.Translate(in)
	if err != nil {
		return res, fmt.Errorf("%s: Environment %q: %w", chosen.at, env.Name, err)
	}
	for name, msg := range refused {
		v := out.AppAPIs[name]
		v.Reason, v.Message = v1alpha1.ReasonInvalidSpec, msg
		out.AppAPIs[name] = v
	}
	res.Verdicts = out.AppAPIs
	for _, name := range slices.Sorted(maps.Keys(out.AppAPIs)) {
		v := out.AppAPIs[name]
		if v.Accepted {
			continue
		}
		served := "it is not served"
		if v.ServedGeneration > 0 {
			served = "its previously accepted version is still served"
		}
		res.Warnings = append(res.Warnings, fmt.Sprintf("%s: AppAPI %q is refused (%s): %s; %s", where[name], name, v.Reason, v.Message, served))
	}

	snap := out.Snapshot
	if _, _, err := l.sequencer.Next(snap); err != nil {
		return res, fmt.Errorf("%s: the snapshot of Environment %q is not valid: %w", chosen.at, env.Name, err)
	}
	res.Snapshot = snap
	return res, nil
}

func (l *Loader) exprEnv() (*expr.Compiler, error) {
	if l.Expr != nil {
		return l.Expr, nil
	}
	if l.expr == nil {
		env, err := expr.NewCompiler()
		if err != nil {
			return nil, err
		}
		l.expr = env
	}
	return l.expr, nil
}

func environmentNames(m *manifests) []string {
	var names []string
	for _, e := range m.environments {
		names = append(names, e.obj.Name)
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// chooseEnvironment picks the Environment to serve: the one named by
// l.Environment (name or namespace/name), else the first by name, then
// namespace.
func (l *Loader) chooseEnvironment(m *manifests, res *Result) (*located[v1alpha1.Environment], error) {
	envs := slices.Clone(m.environments)
	slices.SortFunc(envs, func(a, b located[v1alpha1.Environment]) int {
		return cmp.Or(strings.Compare(a.obj.Name, b.obj.Name), strings.Compare(a.obj.Namespace, b.obj.Namespace))
	})
	if len(envs) == 0 {
		msg := fmt.Sprintf("no Environment in %s: add one (apiVersion: %s, kind: Environment)", l.Dir, v1alpha1.GroupVersion)
		if m.unreadable > 0 {
			msg += fmt.Sprintf("; %d files or documents could not be read, see the warnings", m.unreadable)
		}
		return nil, errors.New(msg)
	}
	if l.Environment == "" {
		if len(envs) > 1 {
			var others []string
			for _, e := range envs[1:] {
				others = append(others, qualified(e.obj.Namespace, e.obj.Name))
			}
			res.Warnings = append(res.Warnings, fmt.Sprintf("found %d Environments; serving %q, not %s: choose one with --environment",
				len(envs), envs[0].obj.Name, strings.Join(others, ", ")))
		}
		return &envs[0], nil
	}
	ns, name, hasNS := strings.Cut(l.Environment, "/")
	if !hasNS {
		ns, name = "", l.Environment
	}
	var matches []*located[v1alpha1.Environment]
	for i := range envs {
		if envs[i].obj.Name == name && (ns == "" || envs[i].obj.Namespace == ns) {
			matches = append(matches, &envs[i])
		}
	}
	if len(matches) == 0 {
		return nil, fmt.Errorf("no Environment %q in %s; found %s", l.Environment, l.Dir, strings.Join(quoteAll(res.Environments), ", "))
	}
	if len(matches) > 1 {
		res.Warnings = append(res.Warnings, fmt.Sprintf("Environment %q exists in namespaces %s; serving the one in %q: choose with --environment namespace/name",
			name, strings.Join(namespacesOf(matches), ", "), matches[0].obj.Namespace))
	}
	return matches[0], nil
}

func qualified(ns, name string) string {
	if ns == "default" {
		return fmt.Sprintf("%q", name)
	}
	return fmt.Sprintf("%q", ns+"/"+name)
}

func quoteAll(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = fmt.Sprintf("%q", n)
	}
	return out
}

func namespacesOf(envs []*located[v1alpha1.Environment]) []string {
	var out []string
	for _, e := range envs {
		out = append(out, fmt.Sprintf("%q", e.obj.Namespace))
	}
	return out
}

// checkEnvironmentNames warns about AppAPIs and ApiTokens whose
// spec.environment names no Environment of their namespace, which is
// usually a typo.
func checkEnvironmentNames(m *manifests, res *Result) {
	exists := map[string]bool{}
	for _, e := range m.environments {
		exists[e.obj.Namespace+"/"+e.obj.Name] = true
	}
	check := func(at, kind, ns, name, env string) {
		if !exists[ns+"/"+env] {
			res.Warnings = append(res.Warnings, fmt.Sprintf("%s: %s %q names Environment %q, which is not in namespace %q of the directory (EnvironmentNotFound)",
				at, kind, name, env, ns))
		}
	}
	for _, a := range m.apps {
		check(a.at, "AppAPI", a.obj.Namespace, a.obj.Name, a.obj.Spec.Environment)
	}
	for _, t := range m.tokens {
		check(t.at, "ApiToken", t.obj.Namespace, t.obj.Name, t.obj.Spec.Environment)
	}
}

// resolveSecrets reads the Environment's spec.secrets from the Secrets of
// the directory. A missing one is left out with a warning, as the
// controller publishes without it and reports SecretNotFound.
func resolveSecrets(m *manifests, env *located[v1alpha1.Environment], res *Result) map[string]string {
	values := map[string]string{}
	for i, ref := range env.obj.Spec.Secrets {
		if ref.Name == "" {
			res.Warnings = append(res.Warnings, fmt.Sprintf("%s: Environment %q: spec.secrets[%d] has no name, skipped", env.at, env.obj.Name, i))
			continue
		}
		data, ok := m.secrets[env.obj.Namespace+"/"+ref.SecretKeyRef.Name]
		value, hasKey := data[ref.SecretKeyRef.Key]
		switch {
		case !ok:
			res.Warnings = append(res.Warnings, fmt.Sprintf("%s: Environment %q: secret %q: no Secret %q in namespace %q of the directory; serving without it (SecretNotFound)",
				env.at, env.obj.Name, ref.Name, ref.SecretKeyRef.Name, env.obj.Namespace))
		case !hasKey:
			res.Warnings = append(res.Warnings, fmt.Sprintf("%s: Environment %q: secret %q: Secret %q has no key %q; serving without it (SecretNotFound)",
				env.at, env.obj.Name, ref.Name, ref.SecretKeyRef.Name, ref.SecretKeyRef.Key))
		default:
			values[ref.Name] = string(value)
		}
	}
	return values
}

// dropDuplicateHashes keeps the first of two token entries with the same
// hash, which only a hand-edited TokensFile can hold and which would make
// the snapshot invalid.
func dropDuplicateHashes(tokens []snapshot.Token, res *Result) []snapshot.Token {
	seen := map[string]bool{}
	return slices.DeleteFunc(tokens, func(t snapshot.Token) bool {
		if seen[t.Hash] {
			res.Warnings = append(res.Warnings, fmt.Sprintf("%s: token %s of ApiToken %q has the hash of another token; it is ignored", TokensFile, t.ID, t.Name))
			return true
		}
		seen[t.Hash] = true
		return false
	})
}

// printTokens shows each new token once. Out is the only place a token is
// ever written.
func (l *Loader) printTokens(tokens []minted, res *Result) {
	if len(tokens) == 0 {
		return
	}
	w := l.Out
	if w == nil {
		w = os.Stdout
	}
	var b bytes.Buffer
	for _, t := range tokens {
		verb := ""
		if t.rotated {
			verb = ", rotated"
		}
		fmt.Fprintf(&b, "appapi: token %q (environment %s, id %s%s): %s\n", t.name, t.environment, t.id, verb, t.text)
	}
	fmt.Fprintf(&b, "appapi: each token is shown only once, keep it now; call an AppAPI with: curl -H \"Authorization: Bearer <TOKEN>\" http://<gateway address><path>\n")
	if _, err := w.Write(b.Bytes()); err != nil {
		res.Warnings = append(res.Warnings, fmt.Sprintf("could not print %d new tokens (%v): rotate them with the %s annotation to get new ones",
			len(tokens), err, v1alpha1.RotateAnnotation))
	}
}
