// Package httpsyntax holds the RFC 9110 grammar rules that more than one
// part of the gateway checks, so that they agree on what is valid.
package httpsyntax

// tchar marks the bytes RFC 9110 section 5.6.2 allows in a token.
var tchar = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
		t[c-'a'+'A'] = true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()

// IsToken reports whether s is a token: the syntax of methods and header
// names. Anything else would corrupt the message it is written into.
func IsToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !tchar[s[i]] {
			return false
		}
	}
	return true
}
