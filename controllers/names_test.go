package controllers

import (
	"testing"

	"github.com/appapi-dev/appapi/internal/snapshot"
)

func TestReservedSecretNames(t *testing.T) {
	for _, name := range []string{
		tokenRecordName("partner"), tokenRecordName("x"),
		signingKeyName("prod"), snapshot.CredentialsName("prod"),
		// Environments that do not exist yet.
		signingKeyName("a-b"), snapshot.CredentialsName("later"),
	} {
		if !reservedSecretName(name) {
			t.Errorf("%q is not reserved", name)
		}
	}
	for _, name := range []string{
		"partner-token", "appapi-token", "appapi-credentials", "appapi--signing-key-x",
		"my-appapi-prod-credentials", "appapi-prod-credentials-copy", "appapi-tokens.x",
	} {
		if reservedSecretName(name) {
			t.Errorf("%q is reserved", name)
		}
	}
}
