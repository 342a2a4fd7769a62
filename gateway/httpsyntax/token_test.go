package httpsyntax

import "testing"

func TestIsToken(t *testing.T) {
	for _, s := range []string{"GET", "X-Request-Id", "x_y", "!#$%&'*+-.^_`|~", "0"} {
		if !IsToken(s) {
			t.Errorf("IsToken(%q) = false, want true", s)
		}
	}
	for _, s := range []string{"", "X Bad", "X:Bad", "Bad\n", "a,b", "(x)", "é", "a\x00", "\x7f"} {
		if IsToken(s) {
			t.Errorf("IsToken(%q) = true, want false", s)
		}
	}
	// Every byte outside the grammar is refused on its own.
	allowed := 0
	for c := 0; c < 256; c++ {
		if IsToken(string([]byte{byte(c)})) {
			allowed++
		}
	}
	if allowed != 10+26+26+15 {
		t.Errorf("%d single bytes are tokens, want 77", allowed)
	}
}
