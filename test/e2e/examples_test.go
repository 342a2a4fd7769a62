//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/appapi-dev/appapi/internal/demoupstream"
)

// TestExamplesAnswerAsTheirREADMEsSay applies examples/ with kubectl and
// makes the requests each example's README shows.
func TestExamplesAnswerAsTheirREADMEsSay(t *testing.T) {
	ns := newNamespace(t, "examples")
	upstream := httptest.NewServer(demoupstream.Handler())
	defer upstream.Close()
	kubectl(t, "apply", "-n", ns, "-R", "-f", filepath.Join(root, "examples"))
	// The examples expect their upstream at 127.0.0.1:9090; point the
	// demo Environment at this test's own, as a user would for a cluster.
	kubectl(t, "patch", "-n", ns, "environment", "demo", "--type=merge",
		"-p", fmt.Sprintf(`{"spec":{"variables":{"petstoreURL":%q}}}`, upstream.URL))
	kubectl(t, "wait", "-n", ns, "--for=condition=Ready", "--timeout=90s", "environments,apitokens,appapis", "--all")

	demo, prod, dev := gatewayURL(t, ns, "demo"), gatewayURL(t, ns, "prod"), gatewayURL(t, ns, "dev")
	demoToken, partner, internal, devToken := token(t, ns, "demo-client"), token(t, ns, "prod-partner"), token(t, ns, "prod-internal"), token(t, ns, "dev-client")
	const jsonType, formType = "application/json", "application/x-www-form-urlencoded"

	for _, tc := range []struct {
		example, method, url, token, contentType, body string
		status                                         int
		want                                           []string
	}{
		{"pet-lookup", "GET", demo + "/pets/1", demoToken, "", "", 200, []string{`"name":"Biscuit"`, `"adoptable":true`}},
		{"pet-lookup", "GET", demo + "/pets/2", demoToken, "", "", 200, []string{`"adoptable":false`}},
		{"pet-lookup", "GET", demo + "/pets/99", demoToken, "", "", 404, []string{`"not_found"`}},
		{"pet-lookup", "GET", demo + "/pets/1", "", "", "", 401, []string{"Authorization: Bearer"}},
		{"contact-form", "POST", demo + "/contact", "", jsonType, `{"name": "Ada", "email": "ada@example.org", "message": "Hello!"}`, 201, []string{`"id":"sub-`, `"receivedAt"`}},
		{"contact-form", "POST", demo + "/contact", "", formType, "name=Ada&email=ada%40example.org&message=Hello+from+a+form", 201, []string{`"id":"sub-`}},
		{"contact-form", "POST", demo + "/contact", "", jsonType, `{"name": "Ada", "email": "not-an-email", "phone": "555"}`, 400, []string{`"pointer":"/email"`, `"errors"`}},
		{"login", "POST", demo + "/login", "", jsonType, `{"username": "ada", "password": "open-sesame"}`, 200, []string{`"token":"ey`, `"tokenType":"Bearer"`}},
		{"login", "POST", demo + "/login", "", jsonType, `{"username": "ada", "password": "guess"}`, 401, nil},
		{"login", "POST", demo + "/login", "", jsonType, `{"username": "ada"}`, 400, nil},
		{"redirect", "GET", demo + "/go/nope", "", "", "", 404, []string{`"not_found"`}},
		{"orders-search", "GET", demo + "/customers/c-42/orders", demoToken, "", "", 200, []string{`"limit":10`, `"limitPlusOne":11`, `"status":"open"`}},
		{"orders-search", "GET", demo + "/customers/c-42/orders?status=shipped&limit=25&includeItems=true", demoToken, "", "", 200, []string{`"limit":25`, `"includeItems":true`}},
		{"orders-search", "GET", demo + "/customers/c-42/orders?limit=ten", demoToken, "", "", 400, []string{`query parameter \"limit\"`}},
		{"key-filtering", "GET", prod + "/report", partner, "", "", 200, nil},
		{"key-filtering", "GET", prod + "/report", internal, "", "", 403, nil},
		{"key-filtering", "GET", prod + "/report", devToken, "", "", 401, nil},
		{"key-filtering", "GET", dev + "/report", devToken, "", "", 200, nil},
		{"key-filtering", "GET", dev + "/report", partner, "", "", 401, nil},
	} {
		t.Run(tc.example+" "+tc.method+" "+strings.TrimPrefix(tc.url, "http://"), func(t *testing.T) {
			r, err := call(tc.method, tc.url, tc.token, tc.contentType, strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			for _, w := range tc.want {
				if !strings.Contains(r.body, w) {
					t.Errorf("body %s lacks %s", r.body, w)
				}
			}
		})
	}
	t.Run("contact-inbox", func(t *testing.T) { contactInbox(t, demo, demoToken) })
	t.Run("redirect GET /go/docs", func(t *testing.T) {
		r, err := call("GET", demo+"/go/docs", "", "", nil)
		if err != nil || r.status != 302 || r.header.Get("Location") != "https://example.org/docs" || r.body != "" {
			t.Fatalf("%v %d %v %q", err, r.status, r.header, r.body)
		}
	})
}

// contactInbox makes the requests of examples/contact-inbox/README.md: it
// stores submissions, pages through them by topic, reads one and updates it
// with If-Match.
func contactInbox(t *testing.T, demo, token string) {
	const jsonType = "application/json"
	var ids []string
	for _, s := range []string{
		`{"name": "Ada", "email": "ada@example.org", "topic": "sales", "message": "Hello!"}`,
		`{"name": "Bob", "email": "bob@example.org", "topic": "support", "message": "Help"}`,
		`{"name": "Cy", "email": "cy@example.org", "topic": "sales", "message": "Prices?"}`,
		`{"name": "Di", "email": "di@example.org", "topic": "sales", "message": "A demo?"}`,
	} {
		r, err := call("POST", demo+"/inbox/messages", "", jsonType, strings.NewReader(s))
		if err != nil || r.status != 201 || !strings.Contains(r.body, `"version":1`) || !strings.HasPrefix(r.header.Get("Location"), "/inbox/messages/") {
			t.Fatalf("POST /inbox/messages: %v %d %v %s", err, r.status, r.header, r.body)
		}
		ids = append(ids, strings.TrimPrefix(r.header.Get("Location"), "/inbox/messages/"))
	}
	r, err := call("POST", demo+"/inbox/messages", "", jsonType, strings.NewReader(`{"name": "Ada", "email": "nope", "topic": "jobs"}`))
	if err != nil || r.status != 400 || !strings.Contains(r.body, `"pointer":"/topic"`) {
		t.Errorf("an invalid submission: %v %d %s", err, r.status, r.body)
	}

	var page struct {
		Items []struct {
			ID   string `json:"id"`
			Name string `json:"name"`
		} `json:"items"`
		NextCursor *string `json:"nextCursor"`
	}
	names := func(url string) []string {
		t.Helper()
		r, err := call("GET", url, token, "", nil)
		if err != nil || r.status != 200 {
			t.Fatalf("GET %s: %v %d %s", url, err, r.status, r.body)
		}
		page.NextCursor = nil
		if err := json.Unmarshal([]byte(r.body), &page); err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, it := range page.Items {
			out = append(out, it.Name)
		}
		return out
	}
	if got := names(demo + "/inbox/messages?topic=sales&limit=2"); fmt.Sprint(got) != "[Ada Cy]" || page.NextCursor == nil {
		t.Fatalf("first page: %v, nextCursor %v", got, page.NextCursor)
	}
	if got := names(demo + "/inbox/messages?topic=sales&limit=2&cursor=" + *page.NextCursor); fmt.Sprint(got) != "[Di]" || page.NextCursor != nil {
		t.Errorf("second page: %v, nextCursor %v", got, page.NextCursor)
	}
	if r, _ := call("GET", demo+"/inbox/messages?cursor=forged", token, "", nil); r.status != 422 {
		t.Errorf("a forged cursor: %d %s", r.status, r.body)
	}
	if r, _ := call("GET", demo+"/inbox/messages/no-such-id", token, "", nil); r.status != 404 || !strings.Contains(r.body, "Record not found") {
		t.Errorf("an unknown id: %d %s", r.status, r.body)
	}
	if r, _ := call("GET", demo+"/inbox/messages/"+ids[0], token, "", nil); r.status != 200 || r.header.Get("ETag") != `"1"` {
		t.Errorf("GET by id: %d %v %s", r.status, r.header, r.body)
	}

	patch := func(ifMatch, body string) response {
		t.Helper()
		req, err := http.NewRequest("PATCH", demo+"/inbox/messages/"+ids[0], strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+decode(token))
		req.Header.Set("Content-Type", jsonType)
		req.Header.Set("If-Match", ifMatch)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = resp.Body.Close() }()
		b, _ := io.ReadAll(resp.Body)
		return response{status: resp.StatusCode, header: resp.Header, body: string(b)}
	}
	if r := patch(`"1"`, `{"status": "answered"}`); r.status != 200 || r.header.Get("ETag") != `"2"` || !strings.Contains(r.body, `"status":"answered"`) {
		t.Errorf("PATCH with the current version: %d %v %s", r.status, r.header, r.body)
	}
	if r := patch(`"1"`, `{"status": "read"}`); r.status != 412 || !strings.Contains(r.body, "Version mismatch") {
		t.Errorf("PATCH with a stale version: %d %s", r.status, r.body)
	}
}
