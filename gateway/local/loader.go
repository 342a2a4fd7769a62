// Package local is the gateway's local mode: it reads AppAPI, ApiToken,
// Environment and Secret manifests from a directory and builds the snapshot
// that the controllers would publish for them, with no cluster. It is a
// provider of inputs, like Envoy Gateway's file provider: the CRDs' own
// schemas default and validate the objects (internal/crdschema), and the
// controllers' own code decides token records (internal/token), secret
// values and translation (internal/translate), so a directory that works
// locally works when applied to a cluster.
//
// What the cluster keeps in Secrets, local mode keeps in a state directory:
// the signing key of local tokens and the hash of each token. A token is
// written once, when it is minted, to Loader.Out (the terminal, or the
// gateway's --token-file), and nowhere else.
package local

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/appapi-dev/appapi/api/v1alpha1"
	"github.com/appapi-dev/appapi/config/crd"
	"github.com/appapi-dev/appapi/gateway/expr"
	"github.com/appapi-dev/appapi/internal/crdschema"
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
	// good is the last good version of each file, by path in Dir.
	good map[string]*goodFile
}

// crdSchemas are the defaults and validation of the embedded CRDs.
var crdSchemas = sync.OnceValues(func() (*crdschema.Schemas, error) {
	bases, err := fs.Sub(crd.Bases, "bases")
	if err != nil {
		return nil, err
	}
	return crdschema.Load(bases)
})

// Result is one Load.
type Result struct {
	// Snapshot is valid; its Generation starts at 1 and increases whenever
	// the content changed since the previous Load of the Loader.
	Snapshot *snapshot.Snapshot
	// Environment is the name of the Environment served.
	Environment string
	// Environments are the names of every Environment found, sorted.
	Environments []string
	// Minted are the tokens this Load minted and wrote to Out.
	Minted []NewToken
	// Verdicts are keyed by AppAPI name.
	Verdicts map[string]translate.Verdict
	// Warnings are human-readable, each starting with "file:line: " when
	// it is about a document: refused AppAPIs, files that cannot be used,
	// ignored kinds, missing or refused secrets. They never hold a token or
	// a secret value.
	Warnings []string
}

// Load reads the directory and returns the snapshot. It fails only when
// nothing can be served: no Environment at all, the named Environment
// missing, or the state directory unusable. A file that cannot be used in
// full (a syntax error, an unknown kind, an object the API server would
// refuse) is a warning, and its last good version in an earlier Load keeps
// serving; an AppAPI refused now but accepted in an earlier Load keeps its
// previous route. Everything else is still served.
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

	schemas, err := crdSchemas()
	if err != nil {
		return nil, err
	}
	if l.good == nil {
		l.good = map[string]*goodFile{}
	}
	m, err := readDir(l.Dir, l.StateDir, schemas, l.good)
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

	secrets := resolveSecrets(m, chosen, res)
	in := translate.Input{Environment: env, SecretValues: secrets.Values, DatastoreURL: secrets.DatastoreURL}
	for _, name := range slices.Sorted(maps.Keys(ts.records)) {
		in.TokenNames = append(in.TokenNames, name)
		in.Tokens = append(in.Tokens, ts.records[name].Tokens(name)...)
	}
	in.Tokens = dropDuplicateHashes(in.Tokens, res)
	// In file order: the translator gives a contested path to the AppAPI
	// created first, and leaves those with no creation time as listed.
	where := map[string]string{}
	for _, a := range m.apps {
		if a.obj.Namespace == env.Namespace && a.obj.Spec.Environment == env.Name {
			in.AppAPIs = append(in.AppAPIs, *a.obj)
			where[a.obj.Name] = a.at
		}
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

// resolveSecrets reads the Environment's spec.secrets, and the URL of its
// PostgreSQL datastore, from the Secrets of the directory with the
// controller's rule. A missing or refused one is left out with a warning, as
// the controller publishes without it and reports SecretNotFound or
// SecretNotAllowed (a datastore without its URL refuses store steps with
// NoDatastore).
func resolveSecrets(m *manifests, env *located[v1alpha1.Environment], res *Result) translate.Secrets {
	secrets, _ := translate.ResolveSecrets(env.obj, func(name string) (*corev1.Secret, error) {
		return m.secrets[env.obj.Namespace+"/"+name], nil
	})
	if len(secrets.Missing) > 0 {
		res.Warnings = append(res.Warnings, fmt.Sprintf("%s: Environment %q: spec.secrets: no Secret or key in the directory for %s; serving without them (SecretNotFound)",
			env.at, env.obj.Name, strings.Join(secrets.Missing, ", ")))
	}
	if len(secrets.Refused) > 0 {
		res.Warnings = append(res.Warnings, fmt.Sprintf("%s: Environment %q: spec.secrets: %s lack the label %s=true, by which a Secret's owner lets Environments read it; serving without them (SecretNotAllowed)",
			env.at, env.obj.Name, strings.Join(secrets.Refused, ", "), v1alpha1.EnvironmentSecretLabel))
	}
	if p := secrets.DatastoreProblem; p != nil {
		res.Warnings = append(res.Warnings, fmt.Sprintf("%s: Environment %q: %s (%s)", env.at, env.obj.Name, p.Message, p.Reason))
	}
	return secrets
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
