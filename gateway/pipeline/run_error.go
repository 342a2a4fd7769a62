package pipeline

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// RunError is a failure of a pipeline that the caller should answer with.
type RunError struct {
	// Status is the HTTP status to answer with: 400 for a request that does
	// not fit (a bad query or body, schema violations, malformed XML), 502
	// when an upstream failed or answered unusably, 504 on a timeout, 500
	// for failures of the pipeline itself (expressions, keys, redirects,
	// calls); a store step answers what its datastore says (404, 409, 412,
	// 413, 422, 503).
	Status int
	// Title is a short, fixed summary, e.g. "Upstream request failed".
	Title string
	// Detail explains the failure and is safe to show a client: it never
	// holds secret values, token text, or the URL, host or address of an
	// http step's upstream. It does not repeat the step name.
	Detail string
	// Step names the step that failed; empty when the request or the
	// response block did.
	Step string
	// Violations lists each schema violation.
	Violations []Violation
	// RetryAfter, when not 0, is how long the caller should wait before
	// retrying (a Retry-After header): the failure is expected to pass.
	RetryAfter time.Duration

	// calledAppAPI is set once the error has been attributed to a call step,
	// so that nested calls do not wrap the detail again at every level.
	calledAppAPI string
	// cause is a safe sentinel (context.DeadlineExceeded, ...) for errors.Is.
	cause error
}

// Violation is one way a value does not match a JSON Schema.
type Violation struct {
	// Pointer is the JSON pointer (RFC 6901) of the offending value inside
	// the value checked, e.g. "/items/0/price"; "" is the value itself.
	Pointer string `json:"pointer"`
	// Message says what is wrong, in English.
	Message string `json:"message"`
}

// Titles of run errors. They are fixed text, so a caller may match on them.
const (
	TitleBadRequest        = "Bad request"
	TitleExpressionFailed  = "Expression failed"
	TitleUpstreamFailed    = "Upstream request failed"
	TitleUpstreamTimeout   = "Upstream request timed out"
	TitleUpstreamTooLarge  = "Upstream response too large"
	TitleUpstreamInvalid   = "Invalid upstream response"
	TitleRequestTimeout    = "Request timed out"
	TitleSchemaMismatch    = "Request does not match the schema"
	TitleInvalidXML        = "Invalid XML"
	TitleInvalidRedirect   = "Invalid redirect"
	TitleInvalidHeader     = "Invalid header"
	TitleInvalidValue      = "Invalid value"
	TitleJWTFailed         = "JWT signing failed"
	TitleCallFailed        = "Call failed"
	TitleCallDepthExceeded = "Call depth exceeded"
	TitleInvalidURLValue   = "Invalid value in upstream URL"

	TitleNoDatastore          = "No datastore"
	TitleRecordNotFound       = "Record not found"
	TitleRecordExists         = "Record already exists"
	TitleVersionMismatch      = "Version mismatch"
	TitleRecordTooLarge       = "Record too large"
	TitleInvalidStoreRequest  = "Invalid store request"
	TitleDatastoreUnavailable = "Datastore unavailable"
	TitleDatastoreFailed      = "Datastore failed"
)

func (e *RunError) Error() string {
	var b strings.Builder
	if e.Step != "" {
		fmt.Fprintf(&b, "step %q: ", e.Step)
	}
	b.WriteString(e.Title)
	if e.Detail != "" {
		b.WriteString(": ")
		b.WriteString(e.Detail)
	}
	if n := len(e.Violations); n > 0 {
		fmt.Fprintf(&b, " (%d violations)", n)
	}
	return b.String()
}

// Unwrap returns context.DeadlineExceeded for timeouts, so that
// errors.Is(err, context.DeadlineExceeded) holds for them; nil otherwise.
func (e *RunError) Unwrap() error { return e.cause }

// output is what a step that failed with onError Continue records:
// {"error": message}.
func (e *RunError) output() map[string]any {
	message := e.Title
	if e.Detail != "" {
		message += ": " + e.Detail
	}
	return map[string]any{"error": message}
}

func newError(status int, title, format string, args ...any) *RunError {
	return &RunError{Status: status, Title: title, Detail: fmt.Sprintf(format, args...)}
}

// schemaMismatch reports a value that does not match a JSON Schema.
func schemaMismatch(vs []Violation, format string, args ...any) *RunError {
	e := newError(http.StatusBadRequest, TitleSchemaMismatch, format, args...)
	e.Violations = vs
	return e
}

// exprError reports a failed evaluation. Errors of the expr package never
// contain input values, so their text is safe to show.
func exprError(field string, err error) *RunError {
	e := newError(http.StatusInternalServerError, TitleExpressionFailed, "%s: %v", field, err)
	if errors.Is(err, context.DeadlineExceeded) {
		e.cause = context.DeadlineExceeded
	}
	return e
}

// timeoutError reports that the request's deadline passed.
func timeoutError() *RunError {
	return &RunError{Status: http.StatusGatewayTimeout, Title: TitleRequestTimeout,
		Detail: "the App API did not finish within the request timeout", cause: context.DeadlineExceeded}
}

// contextError returns what run returns once ctx is done: the context's own
// error when the caller went away (nobody reads an answer), a 504 *RunError
// when the deadline passed, and nil while ctx is live.
func contextError(ctx context.Context) error {
	switch err := ctx.Err(); {
	case err == nil:
		return nil
	case errors.Is(err, context.DeadlineExceeded):
		return timeoutError()
	default:
		return err
	}
}
