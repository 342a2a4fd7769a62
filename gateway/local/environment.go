package local

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/appapi-dev/appapi/api/v1alpha1"
)

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
			msg += fmt.Sprintf("; %d files could not be used in full, see the warnings", m.unreadable)
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
