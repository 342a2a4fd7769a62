package pipeline

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/appapi-dev/appapi/api/v1alpha1"
	"github.com/appapi-dev/appapi/gateway/expr"
)

// The algorithms a jwt step signs with.
const (
	algHS256 v1alpha1.JWTAlgorithm = "HS256"
	algRS256 v1alpha1.JWTAlgorithm = "RS256"
	algES256 v1alpha1.JWTAlgorithm = "ES256"
	algEdDSA v1alpha1.JWTAlgorithm = "EdDSA"
)

// keyCacheKey identifies a parsed key without keeping the secret's text.
type keyCacheKey struct {
	alg    v1alpha1.JWTAlgorithm
	digest [sha256.Size]byte
}

// keyCacheEntry is a parsed key, or the fact that the secret is not a key
// of the algorithm.
type keyCacheEntry struct {
	key any
	ok  bool
}

// jwtOp signs a JSON Web Token. Its output is {token}.
type jwtOp struct {
	algorithm v1alpha1.JWTAlgorithm
	// key names the secret that holds the key.
	key    string
	claims *expr.Program
	// expiresIn, when not 0, sets exp unless the claims do.
	expiresIn time.Duration
}

func init() {
	register("jwt", func(c *compiler, s *v1alpha1.Step) (operation, error) {
		j := s.JWT
		claims, err := c.program("jwt.claims", j.Claims)
		if err != nil {
			return nil, err
		}
		expiresIn, err := c.duration("jwt.expiresIn", j.ExpiresIn, 0)
		return &jwtOp{algorithm: j.Algorithm, key: j.Key, claims: claims, expiresIn: expiresIn}, err
	})
}

func (op *jwtOp) run(ctx context.Context, x *execution) (any, *Result, error) {
	v, err := x.eval(ctx, "jwt.claims", op.claims)
	if err != nil {
		return nil, nil, err
	}
	in, ok := v.(map[string]any)
	if !ok {
		return nil, nil, newError(http.StatusInternalServerError, TitleJWTFailed,
			"claims must be a map, got %s", expr.TypeName(v))
	}
	claims := make(jwt.MapClaims, len(in)+2)
	for k, c := range in {
		// A timestamp claim (nbf: now) means a NumericDate.
		if t, ok := c.(time.Time); ok {
			c = t.Unix()
		}
		claims[k] = c
	}
	now := x.act.Now
	if _, ok := claims["iat"]; !ok {
		claims["iat"] = now.Unix()
	}
	if _, ok := claims["exp"]; !ok && op.expiresIn > 0 {
		claims["exp"] = now.Add(op.expiresIn).Unix()
	}

	method, key, err := x.rt.signingKey(op.algorithm, op.key)
	if err != nil {
		return nil, nil, err
	}
	token, err := jwt.NewWithClaims(method, claims).SignedString(key)
	if err != nil {
		// The library's errors name the key type at most, but they are not
		// shown: a fixed text is enough.
		return nil, nil, newError(http.StatusInternalServerError, TitleJWTFailed, "the token could not be signed")
	}
	return map[string]any{"token": token}, nil, nil
}

// signingKey returns the parsed key in the secret named name, parsing it
// once per algorithm and secret value.
func (rt *Runtime) signingKey(alg v1alpha1.JWTAlgorithm, name string) (jwt.SigningMethod, any, error) {
	var method jwt.SigningMethod
	switch alg {
	case algHS256:
		method = jwt.SigningMethodHS256
	case algRS256:
		method = jwt.SigningMethodRS256
	case algES256:
		method = jwt.SigningMethodES256
	case algEdDSA:
		method = jwt.SigningMethodEdDSA
	default:
		return nil, nil, newError(http.StatusInternalServerError, TitleJWTFailed, "algorithm %q is not HS256, RS256, ES256 or EdDSA", string(alg))
	}
	secret, ok := rt.Secrets[name]
	if !ok {
		return nil, nil, newError(http.StatusInternalServerError, TitleJWTFailed, "the key secret %q is not set", name)
	}
	ck := keyCacheKey{alg: alg, digest: sha256.Sum256([]byte(secret))}
	entry, cached := rt.keys.Load(ck)
	if !cached {
		key, err := parseSigningKey(alg, secret)
		entry, _ = rt.keys.LoadOrStore(ck, keyCacheEntry{key: key, ok: err == nil})
	}
	e := entry.(keyCacheEntry)
	if !e.ok {
		hint := ""
		if alg == algHS256 {
			hint = fmt.Sprintf(" (at least %d bytes)", minHS256KeyBytes)
		}
		return nil, nil, newError(http.StatusInternalServerError, TitleJWTFailed,
			"the key secret %q is not a valid %s key%s", name, string(alg), hint)
	}
	return method, e.key, nil
}

var errNotAKey = errors.New("not a key of the algorithm")

// minHS256KeyBytes is the shortest HS256 key the jwt step signs with.
const minHS256KeyBytes = 32

// parseSigningKey parses a secret's text as a key of alg: the bytes
// themselves for HS256, otherwise a PEM private key (PKCS #8, or PKCS #1
// for RSA and SEC 1 for EC). Its error says nothing about the text.
func parseSigningKey(alg v1alpha1.JWTAlgorithm, secret string) (any, error) {
	if alg == algHS256 {
		// RFC 7518 section 3.2: an HS256 key has at least 256 bits; a
		// shorter one is guessable, and a token signed with it worthless.
		if len(secret) < minHS256KeyBytes {
			return nil, errNotAKey
		}
		return []byte(secret), nil
	}
	block, _ := pem.Decode([]byte(secret))
	if block == nil {
		return nil, errNotAKey
	}
	var key any
	var err error
	switch block.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	default:
		return nil, errNotAKey
	}
	if err != nil {
		return nil, errNotAKey
	}
	switch k := key.(type) {
	case *rsa.PrivateKey:
		if alg == algRS256 {
			return k, nil
		}
	case *ecdsa.PrivateKey:
		if alg == algES256 && k.Curve == elliptic.P256() {
			return k, nil
		}
	case ed25519.PrivateKey:
		if alg == algEdDSA {
			return k, nil
		}
	}
	return nil, errNotAKey
}
