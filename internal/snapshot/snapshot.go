// Package snapshot defines the configuration that the controllers publish for
// each Environment and that its gateway serves: the contract between the
// control plane and the data plane. Both binaries use these types, so they
// cannot disagree on its shape.
//
// A snapshot is published as Kubernetes objects (see Encode): routes and plain
// settings in ConfigMaps, token hashes and secret values in one Secret.
package snapshot

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"time"

	"github.com/appapi-dev/appapi/api/v1alpha1"
)

// Version names the shape of the snapshot. A gateway refuses a snapshot of a
// version it does not know and keeps serving its last good one, so the
// version changes whenever a change would be misread by an older gateway.
const Version = "appapi.dev/snapshot/v1"

// Snapshot is everything one Environment's gateway needs to serve requests.
type Snapshot struct {
	// Header is what the index ConfigMap carries; its fields are inlined in
	// the JSON, as an embedded struct's are.
	Header
	// Routes are the accepted AppAPIs, sorted by name.
	Routes []Route `json:"routes,omitempty"`
	// Credentials are published only in a Secret.
	Credentials Credentials `json:"-"`
	// Bound says a reader found this snapshot's index named by the digest
	// in the credentials Secret (see IndexDigestKey): it is what the
	// manager published last, so a gateway serves it even when its
	// generation is lower than one it served before, as after a restore.
	Bound bool `json:"-"`
}

// Header is what a snapshot and its index share: everything but the routes
// and the credentials.
type Header struct {
	Version     string `json:"version"`
	Namespace   string `json:"namespace"`
	Environment string `json:"environment"`
	// Generation increases by one with every published change.
	Generation int64    `json:"generation"`
	Settings   Settings `json:"settings"`
	// Variables are the Environment's plain configuration values.
	Variables map[string]string `json:"variables,omitempty"`
	// Datastore is the backend store steps use; nil when the Environment
	// has none.
	Datastore *Datastore `json:"datastore,omitempty"`
}

// DatastoreKind names a datastore backend.
type DatastoreKind string

const (
	// DatastoreSQLite is a file in the gateway's --data-dir.
	DatastoreSQLite DatastoreKind = "sqlite"
	// DatastorePostgres is the database at Credentials.DatastoreURL.
	DatastorePostgres DatastoreKind = "postgres"
)

// Datastore says which backend the gateway opens. Where the backend is, when
// that is secret (a PostgreSQL URL holds a password), is in the credentials.
type Datastore struct {
	Kind DatastoreKind `json:"kind"`
}

// Assemble joins the header of an index, its routes and the credentials
// into a snapshot and validates it.
func Assemble(h Header, routes []Route, creds Credentials) (*Snapshot, error) {
	s := &Snapshot{Header: h, Routes: routes, Credentials: creds}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return s, nil
}

// Settings are the Environment's request limits.
type Settings struct {
	MaxRequestBytes int64 `json:"maxRequestBytes"`
	// RequestTimeout bounds a whole pipeline.
	RequestTimeout Duration `json:"requestTimeout"`
}

// Duration is a time.Duration written as a Go duration string in JSON.
type Duration time.Duration

// MarshalJSON writes the duration as "30s".
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads a Go duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := time.ParseDuration(s)
	*d = Duration(v)
	return err
}

// Route is one accepted AppAPI generation. The pipeline reuses the API's
// types: the snapshot carries exactly what the user wrote, already validated.
type Route struct {
	// Name is the AppAPI's name, unique in the Environment.
	Name string `json:"name"`
	// UID is the AppAPI's UID, so that a route kept from an earlier
	// generation is never given to a new object of the same name.
	UID string `json:"uid,omitempty"`
	// Generation is the AppAPI generation this route was built from.
	Generation     int64                     `json:"generation"`
	Method         string                    `json:"method"`
	Path           string                    `json:"path"`
	Query          []v1alpha1.QueryParameter `json:"query,omitempty"`
	Authentication v1alpha1.Authentication   `json:"authentication"`
	RequestSchema  json.RawMessage           `json:"requestSchema,omitempty"`
	Steps          []v1alpha1.Step           `json:"steps,omitempty"`
	Response       v1alpha1.Response         `json:"response"`
}

// Credentials are the secret half of a snapshot.
type Credentials struct {
	// Tokens are the accepted ApiTokens, sorted by name then ID.
	Tokens []Token `json:"tokens,omitempty"`
	// Secrets are the Environment's secret values by name.
	Secrets map[string]string `json:"secrets,omitempty"`
	// DatastoreURL is the PostgreSQL connection URL when the datastore's
	// kind is postgres.
	DatastoreURL string `json:"datastoreURL,omitempty"`
}

// Token is one token the gateway accepts. It holds the token's hash, never its text.
type Token struct {
	// Name is the ApiToken's name, which AppAPIs list in allowedTokens.
	Name string `json:"name"`
	// ID is the token's jti claim, safe to log.
	ID string `json:"id"`
	// Hash is HashToken of the token's text.
	Hash string `json:"hash"`
	// ExpiresAt is when the gateway stops accepting the token: its expiry, or
	// the end of the grace period of a rotated token.
	ExpiresAt *time.Time `json:"expiresAt,omitempty"`
}

// HashToken is the one way a token's text becomes the hash the gateway
// compares: lower-case hex SHA-256. Tokens are 256-bit random JWTs, so a fast
// hash is enough; a slow password hash would only slow every request.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}
