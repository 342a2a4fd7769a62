package snapshot

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/appapi-dev/appapi/api/v1alpha1"
	"github.com/appapi-dev/appapi/gateway/pathtemplate"
)

var (
	hashPattern = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

// Validate reports every structural problem of the snapshot at once. The
// controllers never publish a snapshot that fails it, and a gateway never
// loads one, so a bug on either side cannot take an Environment down.
// Expressions are checked when they are compiled, not here.
func (s *Snapshot) Validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	if s.Version != Version {
		add("version %q is not %q", s.Version, Version)
	}
	if s.Namespace == "" || s.Environment == "" {
		add("namespace and environment must be set")
	}
	if s.Generation < 1 {
		add("generation %d must be at least 1", s.Generation)
	}
	if s.Settings.MaxRequestBytes < 1 {
		add("settings.maxRequestBytes must be positive")
	}
	if s.Settings.RequestTimeout <= 0 {
		add("settings.requestTimeout must be positive")
	}

	names := map[string]bool{}
	routeKeys := map[string]string{}
	for i, r := range s.Routes {
		where := fmt.Sprintf("routes[%d] (%s)", i, r.Name)
		if r.Name == "" {
			add("routes[%d]: name must be set", i)
		} else if names[r.Name] {
			add("%s: name appears twice", where)
		}
		names[r.Name] = true
		if !v1alpha1.IsMethod(r.Method) {
			add("%s: method %q is not one of %s", where, r.Method, strings.Join(v1alpha1.Methods, ", "))
		}
		tmpl, err := pathtemplate.Parse(r.Path)
		if err != nil {
			add("%s: %v", where, err)
		} else {
			key := r.Method + " " + tmpl.Key()
			if other, ok := routeKeys[key]; ok {
				add("%s: %s %s is also served by %s", where, r.Method, r.Path, other)
			}
			routeKeys[key] = r.Name
		}
		switch r.Authentication.Mode {
		case v1alpha1.AuthenticationToken, v1alpha1.AuthenticationNone:
		default:
			add("%s: authentication.mode %q is not Token or None", where, r.Authentication.Mode)
		}
		steps := map[string]bool{}
		for j, st := range r.Steps {
			if st.Name == "" || steps[st.Name] {
				add("%s: steps[%d]: name %q is empty or appears twice", where, j, st.Name)
			}
			steps[st.Name] = true
			if n := len(st.Operations()); n != 1 {
				add("%s: steps[%d] (%s): has %d operations, want exactly 1", where, j, st.Name, n)
			}
		}
	}
	for _, r := range s.Routes {
		for _, st := range r.Steps {
			if st.Call != nil && !names[st.Call.AppAPI] {
				add("route %s: step %s calls %q, which is not a route of this snapshot", r.Name, st.Name, st.Call.AppAPI)
			}
		}
	}
	if cycle := FindCallCycle(s.Routes); cycle != nil {
		add("call steps form a cycle: %v", cycle)
	}

	hashes := map[string]bool{}
	for i, t := range s.Credentials.Tokens {
		if t.Name == "" || t.ID == "" {
			add("tokens[%d]: name and id must be set", i)
		}
		// The hash itself stays out of the message: errors are logged.
		if !hashPattern.MatchString(t.Hash) {
			add("tokens[%d] (%s/%s): hash is not lower-case hex SHA-256", i, t.Name, t.ID)
		} else if hashes[t.Hash] {
			add("tokens[%d] (%s/%s): hash appears twice", i, t.Name, t.ID)
		}
		hashes[t.Hash] = true
	}
	for name := range s.Credentials.Secrets {
		if name == "" {
			add("secrets: a name is empty")
		}
	}
	if err := s.validateDatastore(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// validateDatastore checks that the credentials hold a PostgreSQL URL
// exactly when the datastore is PostgreSQL. The URL is a secret: no message
// quotes it, nor any part of it.
func (s *Snapshot) validateDatastore() error {
	hasURL := s.Credentials.DatastoreURL != ""
	switch {
	case s.Datastore == nil:
		if hasURL {
			return errors.New("credentials.datastoreURL is set but the snapshot has no datastore")
		}
	case s.Datastore.Kind == DatastoreSQLite:
		if hasURL {
			return errors.New("credentials.datastoreURL is set but the datastore is sqlite, which has none")
		}
	case s.Datastore.Kind == DatastorePostgres:
		if err := CheckDatastoreURL(s.Credentials.DatastoreURL); err != nil {
			return fmt.Errorf("credentials.datastoreURL: %w", err)
		}
	default:
		return fmt.Errorf("datastore.kind %q is not %s or %s", s.Datastore.Kind, DatastoreSQLite, DatastorePostgres)
	}
	return nil
}

// ErrDatastoreURL is the one thing CheckDatastoreURL says about a URL it
// refuses: any detail (a parse error, the scheme) could quote a password.
var ErrDatastoreURL = errors.New("is not a postgres:// or postgresql:// URL")

// CheckDatastoreURL says whether raw is a PostgreSQL connection URL, the only
// form of spec.datastore.postgres the gateway takes: postgres:// or
// postgresql://, parsed as pgx parses it (several hosts separated by
// commas are fine). Key=value DSNs are refused, so that there is one form
// to document and check. The error never holds the URL.
func CheckDatastoreURL(raw string) error {
	if raw == "" {
		return errors.New("is empty")
	}
	u, err := url.Parse(raw)
	if err != nil || !strings.EqualFold(u.Scheme, "postgres") && !strings.EqualFold(u.Scheme, "postgresql") {
		return ErrDatastoreURL
	}
	return nil
}

// FindCallCycle returns the names of routes that call each other in a
// cycle, starting and ending with the same name, or nil when there is none.
// Calls to names that are not routes are ignored here.
func FindCallCycle(routes []Route) []string {
	calls := map[string][]string{}
	for _, r := range routes {
		for _, st := range r.Steps {
			if st.Call != nil {
				calls[r.Name] = append(calls[r.Name], st.Call.AppAPI)
			}
		}
	}
	const (
		unvisited = iota
		onStack
		done
	)
	state := map[string]int{}
	var stack []string
	var visit func(string) []string
	visit = func(name string) []string {
		switch state[name] {
		case onStack:
			for i, n := range stack {
				if n == name {
					return append(append([]string{}, stack[i:]...), name)
				}
			}
		case done:
			return nil
		}
		state[name] = onStack
		stack = append(stack, name)
		for _, next := range calls[name] {
			if c := visit(next); c != nil {
				return c
			}
		}
		stack = stack[:len(stack)-1]
		state[name] = done
		return nil
	}
	for _, r := range routes {
		if c := visit(r.Name); c != nil {
			return c
		}
	}
	return nil
}
