// Package token mints ApiToken JWTs and keeps the records that let the
// gateway verify them by hash. The plaintext of a token leaves this package
// only to be written to the token's own Secret.
package token

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Keys of the signing key Secret.
const (
	PrivateKeyKey = "ed25519.key"
	PublicKeyKey  = "ed25519.pub"
)

// Issuer is the iss claim of every token.
const Issuer = "appapi.dev"

// NewSigningKey returns the data of a new signing key Secret: an Ed25519
// private key (PKCS #8) and its public key (PKIX), both PEM.
func NewSigningKey() (map[string][]byte, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	privDER, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, err
	}
	pubDER, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, err
	}
	return map[string][]byte{
		PrivateKeyKey: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: privDER}),
		PublicKeyKey:  pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}),
	}, nil
}

// ParseSigningKey reads the private key from a signing key Secret's data.
// Its errors never quote the data.
func ParseSigningKey(data map[string][]byte) (ed25519.PrivateKey, error) {
	block, _ := pem.Decode(data[PrivateKeyKey])
	if block == nil {
		return nil, fmt.Errorf("key %q does not hold a PEM block", PrivateKeyKey)
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("key %q is not a PKCS #8 private key", PrivateKeyKey)
	}
	priv, ok := key.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("key %q is not an Ed25519 key", PrivateKeyKey)
	}
	return priv, nil
}

// KeyID names a signing key in the kid header without revealing it.
func KeyID(priv ed25519.PrivateKey) string {
	sum := sha256.Sum256(priv.Public().(ed25519.PublicKey))
	return hex.EncodeToString(sum[:8])
}

// Subject is who a token is for.
type Subject struct {
	Namespace   string
	Environment string
	Name        string
	// ExpiresAt, when set, becomes the exp claim.
	ExpiresAt *time.Time
}

// Minted is a new token. Text is the only copy of the plaintext.
type Minted struct {
	Text     string
	ID       string
	IssuedAt time.Time
}

// Mint signs a new token for s with a fresh random ID.
func Mint(priv ed25519.PrivateKey, s Subject, now time.Time) (Minted, error) {
	var raw [16]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return Minted{}, err
	}
	id := base64.RawURLEncoding.EncodeToString(raw[:])
	issued := now.UTC().Truncate(time.Second)
	claims := jwt.RegisteredClaims{
		Issuer:   Issuer,
		Subject:  s.Name,
		Audience: jwt.ClaimStrings{s.Environment},
		ID:       id,
		IssuedAt: jwt.NewNumericDate(issued),
	}
	if s.ExpiresAt != nil {
		claims.ExpiresAt = jwt.NewNumericDate(*s.ExpiresAt)
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, claims)
	tok.Header["kid"] = KeyID(priv)
	text, err := tok.SignedString(priv)
	if err != nil {
		return Minted{}, err
	}
	return Minted{Text: text, ID: id, IssuedAt: issued}, nil
}

// Inspect verifies a token this package minted with priv and returns its ID
// and issue time. The controller uses it to recover a token's record from
// its Secret after a crash between writing the two.
func Inspect(priv ed25519.PrivateKey, text string, s Subject) (Minted, error) {
	var claims jwt.RegisteredClaims
	_, err := jwt.ParseWithClaims(text, &claims, func(*jwt.Token) (any, error) { return priv.Public(), nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodEdDSA.Alg()}),
		// An expired token is still recovered: expiry is the gateway's call.
		jwt.WithoutClaimsValidation())
	if err != nil || claims.Issuer != Issuer || claims.Subject != s.Name || !slices.Equal(claims.Audience, jwt.ClaimStrings{s.Environment}) {
		return Minted{}, errors.New("the Secret does not hold a token minted for this ApiToken with the Environment's key")
	}
	if claims.ID == "" || claims.IssuedAt == nil {
		return Minted{}, errors.New("the token has no jti or iat claim")
	}
	return Minted{Text: text, ID: claims.ID, IssuedAt: claims.IssuedAt.Time}, nil
}
