package pipeline

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/go-cmp/cmp"

	"github.com/appapi-dev/appapi/api/v1alpha1"
)

func pemText(t *testing.T, typ string, der []byte, err error) string {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}))
}

func pkcs8(t *testing.T, key any) string {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	return pemText(t, "PRIVATE KEY", der, err)
}

type testKey struct {
	name   string
	alg    v1alpha1.JWTAlgorithm
	secret string
	verify any // key for jwt.Parse
}

func testKeys(t *testing.T) []testKey {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecDER, ecErr := x509.MarshalECPrivateKey(ecKey)
	edPub, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	hmacKey := "a shared secret of at least 32 bytes!!"
	return []testKey{
		{"HS256", algHS256, hmacKey, []byte(hmacKey)},
		{"RS256 PKCS1", algRS256, pemText(t, "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsaKey), nil), rsaKey.Public()},
		{"RS256 PKCS8", algRS256, pkcs8(t, rsaKey), rsaKey.Public()},
		{"ES256 SEC1", algES256, pemText(t, "EC PRIVATE KEY", ecDER, ecErr), ecKey.Public()},
		{"ES256 PKCS8", algES256, pkcs8(t, ecKey), ecKey.Public()},
		{"EdDSA PKCS8", algEdDSA, pkcs8(t, edKey), crypto.PublicKey(edPub)},
	}
}

func jwtRoute(t *testing.T, alg v1alpha1.JWTAlgorithm, claims, expiresIn string) *Endpoint {
	return compileEndpoint(t, "j", []v1alpha1.Step{{Name: "sign", JWT: &v1alpha1.JWTOperation{
		Algorithm: alg, Key: "signingKey", Claims: claims, ExpiresIn: v1alpha1.Duration(expiresIn),
	}}}, body(`steps.sign.token`))
}

func TestJWT(t *testing.T) {
	for _, k := range testKeys(t) {
		t.Run(k.name, func(t *testing.T) {
			r := jwtRoute(t, k.alg, `{'sub': token.name, 'aud': [vars.region], 'nbf': now, 'n': 1}`, "1h")
			rt := testRuntime()
			rt.Secrets = map[string]string{"signingKey": k.secret}
			res := mustRun(t, r, rt, nil)
			text, ok := res.Body.(string)
			if !ok {
				t.Fatalf("body = %#v", res.Body)
			}
			claims := jwt.MapClaims{}
			tok, err := jwt.ParseWithClaims(text, claims, func(*jwt.Token) (any, error) { return k.verify, nil },
				jwt.WithValidMethods([]string{string(k.alg)}), jwt.WithTimeFunc(func() time.Time { return testNow }),
				jwt.WithIssuedAt(), jwt.WithExpirationRequired())
			if err != nil || !tok.Valid {
				t.Fatalf("token does not verify: %v", err)
			}
			want := jwt.MapClaims{
				"sub": "svc", "aud": []any{"eu"}, "n": float64(1),
				"iat": float64(testNow.Unix()), "nbf": float64(testNow.Unix()), "exp": float64(testNow.Add(time.Hour).Unix()),
			}
			if diff := cmp.Diff(want, claims); diff != "" {
				t.Errorf("claims (-want +got):\n%s", diff)
			}
			// The second request uses the cached key.
			if _, ok := rt.keys.Load(keyCacheKeyFor(k.alg, k.secret)); !ok {
				t.Errorf("key not cached")
			}
			mustRun(t, r, rt, nil)
		})
	}
}

func keyCacheKeyFor(alg v1alpha1.JWTAlgorithm, secret string) keyCacheKey {
	return keyCacheKey{alg: alg, digest: sha256.Sum256([]byte(secret))}
}

func TestJWTClaimsOverrideAndNoExpiry(t *testing.T) {
	rt := testRuntime()
	rt.Secrets = map[string]string{"signingKey": "a shared secret of at least 32 bytes!!"}
	r := jwtRoute(t, algHS256, `{'iat': 5, 'exp': 10}`, "1h")
	claims := parseUnverified(t, mustRun(t, r, rt, nil).Body.(string))
	if diff := cmp.Diff(jwt.MapClaims{"iat": float64(5), "exp": float64(10)}, claims); diff != "" {
		t.Errorf("claims set by the expression win (-want +got):\n%s", diff)
	}
	r = jwtRoute(t, algHS256, `{}`, "")
	claims = parseUnverified(t, mustRun(t, r, rt, nil).Body.(string))
	if diff := cmp.Diff(jwt.MapClaims{"iat": float64(testNow.Unix())}, claims); diff != "" {
		t.Errorf("no expiresIn (-want +got):\n%s", diff)
	}
}

func parseUnverified(t *testing.T, text string) jwt.MapClaims {
	t.Helper()
	claims := jwt.MapClaims{}
	if _, _, err := jwt.NewParser().ParseUnverified(text, claims); err != nil {
		t.Fatal(err)
	}
	return claims
}

func TestJWTErrors(t *testing.T) {
	keys := testKeys(t)
	ecPKCS8 := keys[4].secret
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		alg    v1alpha1.JWTAlgorithm
		secret string
	}{
		{"not PEM", algRS256, "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7"},
		{"garbage in PEM", algRS256, "-----BEGIN PRIVATE KEY-----\nc2VjcmV0LWtleS1tYXRlcmlhbA==\n-----END PRIVATE KEY-----\n"},
		{"EC key for RS256", algRS256, ecPKCS8},
		{"RSA key for EdDSA", algEdDSA, keys[2].secret},
		{"P-384 key for ES256", algES256, pkcs8(t, p384)},
		{"public key", algES256, pemText(t, "PUBLIC KEY", mustMarshalPublic(t, keys[4].verify), nil)},
		{"empty HMAC secret", algHS256, ""},
		{"HMAC secret under 256 bits", algHS256, "only-31-bytes-long-hmac-secret!"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rt := testRuntime()
			rt.Secrets = map[string]string{"signingKey": tc.secret}
			r := jwtRoute(t, tc.alg, `{'sub': 'x'}`, "")
			for range 2 { // the second time from the cache
				e := runError(t, r, rt, nil, 500)
				want := `the key secret "signingKey" is not a valid ` + string(tc.alg) + " key"
				if tc.alg == algHS256 {
					want += " (at least 32 bytes)"
				}
				if e.Title != TitleJWTFailed || e.Step != "sign" || e.Detail != want {
					t.Errorf("error = %+v", e)
				}
				for _, line := range strings.Split(tc.secret, "\n") {
					if len(line) > 8 && strings.Contains(e.Error(), line) {
						t.Errorf("error %q contains key material", e.Error())
					}
				}
			}
		})
	}

	t.Run("missing secret", func(t *testing.T) {
		rt := testRuntime()
		rt.Secrets = nil
		e := runError(t, jwtRoute(t, algHS256, `{}`, ""), rt, nil, 500)
		if e.Title != TitleJWTFailed || !strings.Contains(e.Detail, "not set") {
			t.Errorf("error = %+v", e)
		}
	})
	t.Run("claims not a map", func(t *testing.T) {
		rt := testRuntime()
		rt.Secrets = map[string]string{"signingKey": "k"}
		e := runError(t, jwtRoute(t, algHS256, `['sub']`, ""), rt, nil, 500)
		if e.Detail != "claims must be a map, got list" {
			t.Errorf("error = %+v", e)
		}
	})
}

func mustMarshalPublic(t *testing.T, pub any) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return der
}
