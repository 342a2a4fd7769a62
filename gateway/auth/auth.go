// Package auth checks bearer tokens against an Environment's published
// token hashes. The gateway never sees a signing key or a token's text
// other than the one a caller presents, which it hashes and forgets.
package auth

import (
	"net/http"
	"strings"
	"time"

	"github.com/appapi-dev/appapi/internal/snapshot"
)

// Failure says why a request was not authenticated; it labels metrics and
// logs, and is never sent to the caller beyond the RFC 6750 error code.
type Failure string

// Failures. A revoked token and a token of another Environment are both
// unknown here: their hashes are not in this Environment's set.
const (
	FailureMissing   Failure = "missing"
	FailureMalformed Failure = "malformed"
	FailureUnknown   Failure = "unknown"
	FailureExpired   Failure = "expired"
	// FailureDuplicated is a request with more than one Authorization
	// header. HTTP allows one (RFC 9110, 5.3), and which of several counts
	// is a guess that a proxy in front and the gateway could make
	// differently, so it is a malformed request (400), not a wrong token.
	FailureDuplicated Failure = "duplicated"
)

// Token is an authenticated caller.
type Token struct {
	Name string
	ID   string
}

// Set is one snapshot's tokens by hash. It is immutable, so requests read
// it without locks while a new snapshot builds the next one.
type Set struct {
	byHash map[string]snapshot.Token
}

// NewSet indexes tokens by hash.
func NewSet(tokens []snapshot.Token) *Set {
	s := &Set{byHash: make(map[string]snapshot.Token, len(tokens))}
	for _, t := range tokens {
		s.byHash[t.Hash] = t
	}
	return s
}

// Len is the number of tokens.
func (s *Set) Len() int { return len(s.byHash) }

// maxTokenLength bounds the work an attacker can cause by sending a huge
// header; minted tokens are a few hundred bytes.
const maxTokenLength = 4096

// Authenticate checks the values of a request's Authorization header
// (r.Header["Authorization"]): there must be one, "Bearer <token>" with the
// scheme in any case, and the token one of the set's and not expired.
func (s *Set) Authenticate(values []string, now time.Time) (Token, Failure) {
	if len(values) > 1 {
		return Token{}, FailureDuplicated
	}
	if len(values) == 0 || values[0] == "" {
		return Token{}, FailureMissing
	}
	header := values[0]
	scheme, text, ok := strings.Cut(header, " ")
	text = strings.TrimLeft(text, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || text == "" || len(text) > maxTokenLength || strings.ContainsAny(text, " \t") {
		return Token{}, FailureMalformed
	}
	t, ok := s.byHash[snapshot.HashToken(text)]
	if !ok {
		return Token{}, FailureUnknown
	}
	if t.ExpiresAt != nil && !now.Before(*t.ExpiresAt) {
		return Token{}, FailureExpired
	}
	return Token{Name: t.Name, ID: t.ID}, ""
}

// Challenge is the WWW-Authenticate value for a failure, per RFC 6750: a
// request without credentials gets no error code, a bad token gets
// invalid_token.
func Challenge(f Failure) string {
	if f == FailureMissing {
		return `Bearer realm="appapi"`
	}
	return `Bearer realm="appapi", error="invalid_token"`
}

// SetChallenge writes the WWW-Authenticate header for a failure.
func SetChallenge(h http.Header, f Failure) { h.Set("WWW-Authenticate", Challenge(f)) }
