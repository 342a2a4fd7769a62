package local

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/appapi-dev/appapi/api/v1alpha1"
)

// applyDefaults sets what the CRD schema defaults when the API server
// stores an AppAPI, so that the snapshot holds what it would in a cluster.
// The translator defaults authentication.mode itself, and the Environment's
// maxRequestBytes and requestTimeout when it builds the settings.
func applyDefaults(app *v1alpha1.AppAPI) {
	if app.Spec.Authentication.Mode == "" {
		app.Spec.Authentication.Mode = v1alpha1.AuthenticationToken
	}
	for i := range app.Spec.Query {
		if app.Spec.Query[i].Type == "" {
			app.Spec.Query[i].Type = v1alpha1.QueryString
		}
	}
	for i := range app.Spec.Steps {
		st := &app.Spec.Steps[i]
		if st.OnError == "" {
			st.OnError = v1alpha1.OnErrorFail
		}
		if st.HTTP != nil && st.HTTP.Method == "" {
			st.HTTP.Method = "GET"
		}
	}
}

var (
	stepName   = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	httpMethod = map[string]bool{"GET": true, "HEAD": true, "POST": true, "PUT": true, "PATCH": true, "DELETE": true, "OPTIONS": true}
)

// checkSchema checks the few rules of the CRD schema that neither the
// translator nor the pipeline compiler checks, because the API server
// enforces them, and that a route must obey for the snapshot to be valid or
// served correctly. Local mode does no other schema validation. It returns
// what is wrong, or "".
func checkSchema(app *v1alpha1.AppAPI) string {
	s := &app.Spec
	if !v1alpha1.IsMethod(s.Method) {
		return fmt.Sprintf("spec.method: %q is not one of %s", s.Method, strings.Join(v1alpha1.Methods, ", "))
	}
	switch s.Authentication.Mode {
	case v1alpha1.AuthenticationToken, v1alpha1.AuthenticationNone:
	default:
		return fmt.Sprintf("spec.authentication.mode: %q is not Token or None", s.Authentication.Mode)
	}
	queryNames := map[string]bool{}
	for i, q := range s.Query {
		switch {
		case q.Name == "":
			return fmt.Sprintf("spec.query[%d].name: must be set", i)
		case queryNames[q.Name]:
			return fmt.Sprintf("spec.query[%d].name: %q appears twice", i, q.Name)
		case q.Required && q.Default != nil:
			return fmt.Sprintf("spec.query[%d]: a required parameter cannot have a default", i)
		}
		queryNames[q.Name] = true
		switch q.Type {
		case v1alpha1.QueryString, v1alpha1.QueryInteger, v1alpha1.QueryNumber, v1alpha1.QueryBoolean:
		default:
			return fmt.Sprintf("spec.query[%d].type: %q is not string, integer, number or boolean", i, q.Type)
		}
	}
	stepNames := map[string]bool{}
	for i, st := range s.Steps {
		switch {
		case !stepName.MatchString(st.Name):
			return fmt.Sprintf("spec.steps[%d].name: %q must be a letter or underscore followed by letters, digits or underscores", i, st.Name)
		case stepNames[st.Name]:
			return fmt.Sprintf("spec.steps[%d].name: %q appears twice", i, st.Name)
		}
		stepNames[st.Name] = true
		switch st.OnError {
		case v1alpha1.OnErrorFail, v1alpha1.OnErrorContinue:
		default:
			return fmt.Sprintf("spec.steps[%d].onError: %q is not Fail or Continue", i, st.OnError)
		}
		if st.HTTP != nil && !httpMethod[st.HTTP.Method] {
			return fmt.Sprintf("spec.steps[%d].http.method: %q is not one of GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS", i, st.HTTP.Method)
		}
	}
	return ""
}

// poison makes the translator refuse an AppAPI that checkSchema refused,
// so that the translator still treats it as it treats any refused AppAPI:
// its previously accepted route, if any, stays served, and the verdict's
// message is then replaced by checkSchema's. A cluster would have rejected
// the edit, leaving the previous version in place: the same outcome.
func poison(app *v1alpha1.AppAPI) {
	app.Spec.Path = ""
}
