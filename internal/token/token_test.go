package token

import (
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/appapi-dev/appapi/internal/snapshot"
)

func TestMintAndInspect(t *testing.T) {
	data, err := NewSigningKey()
	if err != nil {
		t.Fatal(err)
	}
	priv, err := ParseSigningKey(data)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 27, 12, 0, 0, 500, time.UTC)
	exp := now.Add(24 * time.Hour)
	subject := Subject{Namespace: "shop", Environment: "prod", Name: "partner", ExpiresAt: &exp}
	m, err := Mint(priv, subject, now)
	if err != nil {
		t.Fatal(err)
	}

	var claims jwt.RegisteredClaims
	parsed, err := jwt.ParseWithClaims(m.Text, &claims, func(*jwt.Token) (any, error) { return priv.Public(), nil },
		jwt.WithTimeFunc(func() time.Time { return now }))
	if err != nil {
		t.Fatalf("minted token does not verify: %v", err)
	}
	if parsed.Method.Alg() != "EdDSA" || parsed.Header["kid"] != KeyID(priv) {
		t.Errorf("header = %v, want EdDSA with kid %s", parsed.Header, KeyID(priv))
	}
	if claims.Issuer != Issuer || claims.Subject != "partner" || len(claims.Audience) != 1 || claims.Audience[0] != "prod" ||
		claims.ID != m.ID || !claims.IssuedAt.Equal(now.Truncate(time.Second)) || !claims.ExpiresAt.Equal(exp.Truncate(time.Second)) {
		t.Errorf("claims = %+v", claims)
	}
	if len(m.ID) < 22 {
		t.Errorf("jti %q carries fewer than 128 random bits", m.ID)
	}

	got, err := Inspect(priv, m.Text, subject)
	if err != nil || got.ID != m.ID || !got.IssuedAt.Equal(m.IssuedAt) {
		t.Fatalf("Inspect() = %+v, %v; want ID %s", got, err, m.ID)
	}
	other := subject
	other.Name = "someone-else"
	if _, err := Inspect(priv, m.Text, other); err == nil {
		t.Error("Inspect() accepted a token minted for another ApiToken")
	}
	otherKeyData, _ := NewSigningKey()
	otherKey, _ := ParseSigningKey(otherKeyData)
	if _, err := Inspect(otherKey, m.Text, subject); err == nil || strings.Contains(err.Error(), m.Text) {
		t.Errorf("Inspect() with another key = %v, want an error that does not quote the token", err)
	}

	again, _ := Mint(priv, subject, now)
	if again.ID == m.ID || again.Text == m.Text {
		t.Error("two mints gave the same token")
	}
}

func TestParseSigningKeyRejectsBadData(t *testing.T) {
	for name, data := range map[string]map[string][]byte{
		"missing":  {},
		"not PEM":  {PrivateKeyKey: []byte("hunter2")},
		"not PKCS": {PrivateKeyKey: []byte("-----BEGIN PRIVATE KEY-----\naGVsbG8=\n-----END PRIVATE KEY-----\n")},
	} {
		if _, err := ParseSigningKey(data); err == nil || strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%s: ParseSigningKey() = %v, want an error that does not quote the data", name, err)
		}
	}
}

func TestRecordRotateAndPrune(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	first := Entry{ID: "a", Hash: snapshot.HashToken("a"), IssuedAt: now}
	second := Entry{ID: "b", Hash: snapshot.HashToken("b"), IssuedAt: now}
	third := Entry{ID: "c", Hash: snapshot.HashToken("c"), IssuedAt: now}

	r := &Record{Current: first}
	r.Rotate(second, "1", now, time.Hour)
	if r.Current.ID != "b" || r.Rotation != "1" || len(r.Previous) != 1 || !r.Previous[0].ExpiresAt.Equal(now.Add(time.Hour)) {
		t.Fatalf("after a rotation with grace: %+v", r)
	}
	r.Rotate(third, "2", now, 0)
	if r.Current.ID != "c" || len(r.Previous) != 1 {
		t.Fatalf("a rotation without grace kept the replaced token: %+v", r)
	}
	if ids := names(r.Tokens("partner")); ids != "c,a" {
		t.Fatalf("Tokens() = %s, want c,a", ids)
	}
	if next := r.Prune(now.Add(30 * time.Minute)); !next.Equal(now.Add(time.Hour)) {
		t.Fatalf("Prune() next = %v, want the end of the grace period", next)
	}
	if next := r.Prune(now.Add(time.Hour)); !next.IsZero() || len(r.Previous) != 0 {
		t.Fatalf("Prune() after the grace period kept %+v (next %v)", r.Previous, next)
	}

	// A grace period never extends a token past its own expiry.
	soon := now.Add(time.Minute)
	r = &Record{Current: Entry{ID: "d", Hash: snapshot.HashToken("d"), ExpiresAt: &soon}}
	r.Rotate(first, "3", now, time.Hour)
	if !r.Previous[0].ExpiresAt.Equal(soon) {
		t.Fatalf("grace extended an expiring token to %v", r.Previous[0].ExpiresAt)
	}
}

func TestUnmarshalRecordRejectsBadData(t *testing.T) {
	for _, data := range []string{"", "{", `{"current":{}}`, `{"current":{"id":"x"}}`} {
		if _, err := UnmarshalRecord([]byte(data)); err == nil {
			t.Errorf("UnmarshalRecord(%q) accepted it", data)
		}
	}
}

func names(tokens []snapshot.Token) string {
	var ids []string
	for _, t := range tokens {
		ids = append(ids, t.ID)
	}
	return strings.Join(ids, ",")
}
