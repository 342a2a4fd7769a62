// Package problem writes the errors the gateway itself produces as RFC 9457
// problem details, so that every client can read them the same way.
package problem

import (
	"encoding/json"
	"net/http"
)

// ContentType is the media type of a problem document.
const ContentType = "application/problem+json"

// Problem is an RFC 9457 problem document. Detail is written for the
// caller, so it never carries a token, a secret value or an upstream's address.
type Problem struct {
	Type      string `json:"type"`
	Title     string `json:"title"`
	Status    int    `json:"status"`
	Detail    string `json:"detail,omitempty"`
	Instance  string `json:"instance,omitempty"`
	RequestID string `json:"requestId"`
	// Errors lists each violation of a schema, with its JSON pointer.
	Errors []Violation `json:"errors,omitempty"`
}

// Violation is one way a value fails a schema.
type Violation struct {
	Pointer string `json:"pointer"`
	Message string `json:"message"`
}

// Write sends p. The type is about:blank, as RFC 9457 says when the status
// and title say it all.
func Write(w http.ResponseWriter, p Problem) {
	if p.Type == "" {
		p.Type = "about:blank"
	}
	if p.Title == "" {
		p.Title = http.StatusText(p.Status)
	}
	body, err := json.Marshal(p)
	if err != nil {
		body = []byte(`{"type":"about:blank","title":"Internal Server Error","status":500}`)
		p.Status = http.StatusInternalServerError
	}
	h := w.Header()
	h.Set("Content-Type", ContentType)
	h.Set("Cache-Control", "no-store")
	h.Del("Content-Length")
	w.WriteHeader(p.Status)
	_, _ = w.Write(append(body, '\n'))
}
