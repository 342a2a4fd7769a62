package pipeline

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

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
)

func (e *Error) runError() string {
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
func (e *Error) Unwrap() error { return e.cause }

// message is the text a step that failed with onError Continue records as
// {"error": message}.
func (e *Error) message() string {
	if e.Detail == "" {
		return e.Title
	}
	return e.Title + ": " + e.Detail
}

func newError(status int, title, format string, args ...any) *Error {
	return &Error{Status: status, Title: title, Detail: fmt.Sprintf(format, args...)}
}

// exprError reports a failed evaluation. Errors of the expr package never
// contain input values, so their text is safe to show.
func exprError(field string, err error) *Error {
	e := newError(http.StatusInternalServerError, TitleExpressionFailed, "%s: %v", field, err)
	if errors.Is(err, context.DeadlineExceeded) {
		e.cause = context.DeadlineExceeded
	}
	return e
}

// timeoutError reports that the request's deadline passed.
func timeoutError() *Error {
	return &Error{Status: http.StatusGatewayTimeout, Title: TitleRequestTimeout,
		Detail: "the App API did not finish within the request timeout", cause: context.DeadlineExceeded}
}

// contextError returns what Run returns once ctx is done: the context's own
// error when the caller went away (nobody reads an answer), a 504 *Error
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
