package pipeline

import (
	"net/url"
	"strings"
	"testing"
)

// FuzzValidRedirect: whatever validRedirect accepts is an absolute http or
// https URL with a host and no user info, or a path that stays on the
// gateway's host also when read as browsers read it (a backslash as a
// slash); it holds no control character.
func FuzzValidRedirect(f *testing.F) {
	for _, seed := range []string{
		"/", "/login?next=/orders", "https://docs.example.com/orders/7", "HTTP://example.com",
		"//evil.example", "/\\evil.example", "\\\\evil.example", "/\t/evil.example", "https://user:pw@example.com/",
		"javascript:alert(1)", "https:evil.example", "https:/\\evil.example", "https://example.org.evil.com/x",
		"/a\r\nSet-Cookie: x=1", "", "http://[::1]:80/", "/%2F%2Fevil.example",
	} {
		f.Add(seed)
	}
	base, err := url.Parse("https://gateway.example/app/")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !validRedirect(s) {
			return
		}
		if strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			t.Fatalf("accepted %q, which holds a control character", s)
		}
		if strings.HasPrefix(s, "/") {
			u, err := url.Parse(strings.ReplaceAll(s, "\\", "/"))
			if err == nil && base.ResolveReference(u).Host != base.Host {
				t.Fatalf("accepted %q, a path that leaves the host", s)
			}
			return
		}
		u, err := url.Parse(s)
		if err != nil || u.Host == "" || u.User != nil || !strings.EqualFold(u.Scheme, "http") && !strings.EqualFold(u.Scheme, "https") {
			t.Fatalf("accepted %q, which is not an absolute http(s) URL with a host and no user info", s)
		}
	})
}
