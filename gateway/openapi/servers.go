package openapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/appapi-dev/appapi/internal/snapshot"
)

// Server is a document's server: the URL its operations are served at.
//
// The document is served on the gateway's admin port, which is not where the
// App APIs are, so the URL is always absolute: a relative one, which OpenAPI
// resolves against the document's own URL, would send generated clients to
// the admin port.
type Server struct {
	URL         string `json:"url"`
	Description string `json:"description,omitempty"`
}

// ServerFor is the server of the document served in answer to r, by a gateway
// whose App APIs listen at apiURL ("" in cluster mode), for snapshot s:
//
//   - the URL a proxy says r was sent to (X-Forwarded-Host and
//     X-Forwarded-Proto), for a document fetched through an ingress: that
//     ingress fronts the App APIs too, and clients outside the cluster know
//     only its URL;
//   - else apiURL (local mode: the --listen address, see ListenURL);
//   - else the Environment's gateway Service (see ServiceURL), which is
//     what callers inside the cluster use. r's Host is no help: it names the
//     admin port.
func ServerFor(r *http.Request, s *snapshot.Snapshot, apiURL string) Server {
	if u, ok := ForwardedURL(r); ok {
		return Server{URL: u, Description: "Where this document was requested, as forwarded by the proxy in front of the gateway."}
	}
	if apiURL != "" {
		return Server{URL: apiURL, Description: "The gateway's App API address."}
	}
	return Server{
		URL:         ServiceURL(s.Namespace, s.Environment),
		Description: fmt.Sprintf("The gateway Service of Environment %s/%s, inside the cluster.", s.Namespace, s.Environment),
	}
}

// ServiceURL is the in-cluster URL of an Environment's gateway Service, on
// its port 80. It must agree with the manager, which names the Service and
// reports this URL in the Environment's status (controllers.gatewayURL); the
// gateway does not import the controllers.
func ServiceURL(namespace, environment string) string {
	return "http://appapi-" + environment + "." + namespace + ".svc"
}

// ListenURL is the URL at which a client on the same machine reaches a server
// listening on addr, as given to net.Listen: http://localhost:8080 for
// ":8080" or "0.0.0.0:8080", http://127.0.0.1:8080 for "127.0.0.1:8080".
// Port 0 is refused: the port is only known once listening.
func ListenURL(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", err
	}
	if port == "" || port == "0" {
		return "", fmt.Errorf("listen address %q has no fixed port", addr)
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port), nil
}

// ForwardedURL is the URL a proxy in front of the gateway says r was sent
// to: the scheme of X-Forwarded-Proto (else of r's own connection) and the
// host of X-Forwarded-Host. Of a list, the first value is the client's. ok is
// false when there is no X-Forwarded-Host or it is not a host[:port], so
// that a header cannot put a path or a script into the document.
func ForwardedURL(r *http.Request) (u string, ok bool) {
	host := firstValue(r.Header.Get("X-Forwarded-Host"))
	if host == "" {
		return "", false
	}
	// url.Parse checks the port; the host must be a name or an IP address.
	parsed, err := url.Parse("http://" + host)
	if err != nil || parsed.Host != host || !isHostName(parsed.Hostname()) {
		return "", false
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	switch proto := strings.ToLower(firstValue(r.Header.Get("X-Forwarded-Proto"))); proto {
	case "http", "https":
		scheme = proto
	}
	return scheme + "://" + host, true
}

// isHostName reports whether h is an IP address or a DNS name (underscores
// allowed, as some resolvers do).
func isHostName(h string) bool {
	if net.ParseIP(h) != nil {
		return true
	}
	if h == "" || len(h) > 253 {
		return false
	}
	for _, c := range h {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_') {
			return false
		}
	}
	return true
}

func firstValue(list string) string {
	first, _, _ := strings.Cut(list, ",")
	return strings.TrimSpace(first)
}

// absoluteURL checks and normalizes the URL of a server: absolute http or
// https, without the trailing slash that would double the slash of every
// path.
func absoluteURL(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("server URL: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("server URL %q is not an absolute http or https URL without a query", raw)
	}
	return strings.TrimRight(raw, "/"), nil
}

// WithServer returns doc, a document Build wrote, with srv as its one
// server, in place of any it had. The gateway builds a document once per
// snapshot and names the server per request; only the top-level object is
// rewritten.
func WithServer(doc []byte, srv Server) ([]byte, error) {
	u, err := absoluteURL(srv.URL)
	if err != nil {
		return nil, fmt.Errorf("openapi: %w", err)
	}
	srv.URL = u
	// The fields of document, in its order, with the server replaced.
	var d struct {
		OpenAPI    json.RawMessage `json:"openapi"`
		Info       json.RawMessage `json:"info"`
		Servers    []Server        `json:"servers"`
		Paths      json.RawMessage `json:"paths"`
		Components json.RawMessage `json:"components"`
	}
	dec := json.NewDecoder(bytes.NewReader(doc))
	// An unknown field would be dropped: Build has grown a field that this
	// function must learn.
	dec.DisallowUnknownFields()
	if err := dec.Decode(&d); err != nil {
		return nil, fmt.Errorf("openapi: not a document Build wrote: %w", err)
	}
	if d.OpenAPI == nil || d.Info == nil || d.Paths == nil || d.Components == nil {
		return nil, errors.New("openapi: not a document Build wrote: a field is missing")
	}
	d.Servers = []Server{srv}
	return encode(d)
}
