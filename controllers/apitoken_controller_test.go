package controllers

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/appapi-dev/appapi/api/v1alpha1"
	"github.com/appapi-dev/appapi/internal/snapshot"
)

// publishedHashes lists the token hashes the Environment's gateway accepts.
func publishedHashes(ns, env string) (map[string]string, error) {
	s, err := readSnapshot(ns, env)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, t := range s.Credentials.Tokens {
		out[t.Hash] = t.Name + "/" + t.ID
	}
	return out, nil
}

// publishedExpiries maps each published token hash to its expiry.
func publishedExpiries(ns, env string) (map[string]*time.Time, error) {
	s, err := readSnapshot(ns, env)
	if err != nil {
		return nil, err
	}
	out := map[string]*time.Time{}
	for _, t := range s.Credentials.Tokens {
		out[t.Hash] = t.ExpiresAt
	}
	return out, nil
}

// tokenText reads the plaintext from the token's Secret.
func tokenText(t *testing.T, ns, secretName string) string {
	t.Helper()
	var text string
	eventually(t, "the token Secret holds a token", func() error {
		s := &corev1.Secret{}
		if err := get(t, ns, secretName, s); err != nil {
			return err
		}
		text = string(s.Data[v1alpha1.TokenSecretKey])
		if text == "" {
			return fmt.Errorf("Secret %s has no token", secretName)
		}
		return nil
	})
	return text
}

func waitTokenReady(t *testing.T, tok *v1alpha1.ApiToken) {
	t.Helper()
	eventually(t, "the ApiToken is Ready", func() error {
		if err := get(t, tok.Namespace, tok.Name, tok); err != nil {
			return err
		}
		return wantCondition(tok, tok.Status.Conditions, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonTokenActive)
	})
}

func TestTokenIsMintedOncePublishedByHashAndRevokedOnDelete(t *testing.T) {
	ns := newNamespace(t)
	create(t, newEnvironment(ns, "prod"))
	tok := newToken(ns, "partner", "prod")
	start := time.Now()
	create(t, tok)
	text := tokenText(t, ns, "partner-token")
	waitTokenReady(t, tok)
	t.Logf("token minted and published in %s", time.Since(start))

	hash := snapshot.HashToken(text)
	hashes, err := publishedHashes(ns, "prod")
	if err != nil {
		t.Fatal(err)
	}
	if hashes[hash] != "partner/"+tok.Status.TokenID {
		t.Fatalf("published hashes %v lack partner/%s", hashes, tok.Status.TokenID)
	}
	if tok.Status.SecretName != "partner-token" || tok.Status.IssuedAt == nil || tok.Status.TokenID == "" {
		t.Errorf("status = %+v", tok.Status)
	}
	assertPlaintextOnlyInItsSecret(t, ns, text, hash)

	// Deleting the Secret loses the plaintext but revokes nothing, and the
	// controller does not mint a replacement.
	if err := k8sClient.Delete(context.Background(), &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "partner-token"}}); err != nil {
		t.Fatal(err)
	}
	create(t, newToken(ns, "nudge", "prod")) // causes a republish
	waitTokenReady(t, newToken(ns, "nudge", "prod"))
	if err := get(t, ns, "partner-token", &corev1.Secret{}); !apierrors.IsNotFound(err) {
		t.Fatalf("the deleted token Secret came back (err %v): the plaintext must exist only once", err)
	}
	if hashes, _ := publishedHashes(ns, "prod"); hashes[hash] == "" {
		t.Fatal("deleting the token's Secret revoked the token")
	}

	start = time.Now()
	if err := k8sClient.Delete(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the deleted ApiToken's hash is no longer published", func() error {
		hashes, err := publishedHashes(ns, "prod")
		if err != nil {
			return err
		}
		if hashes[hash] != "" {
			return fmt.Errorf("still published")
		}
		return nil
	})
	t.Logf("revocation published in %s", time.Since(start))
	eventually(t, "the ApiToken and its record are gone", func() error {
		if err := get(t, ns, "partner", &v1alpha1.ApiToken{}); !apierrors.IsNotFound(err) {
			return fmt.Errorf("ApiToken: %v", err)
		}
		if err := get(t, ns, tokenRecordName("partner"), &corev1.Secret{}); !apierrors.IsNotFound(err) {
			return fmt.Errorf("record: %v", err)
		}
		return nil
	})
	wantEvent(t, ns, "partner", "Revoked")
}

// assertPlaintextOnlyInItsSecret checks that the token's text is in no
// Secret but its own, and neither it nor its hash is anywhere else.
func assertPlaintextOnlyInItsSecret(t *testing.T, ns, text, hash string) {
	t.Helper()
	secrets := &corev1.SecretList{}
	if err := k8sClient.List(context.Background(), secrets, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	for _, s := range secrets.Items {
		for key, v := range s.Data {
			if strings.Contains(string(v), text) && !(s.Labels[LabelComponent] == ComponentToken && key == v1alpha1.TokenSecretKey) {
				t.Errorf("Secret %s key %s holds the token's plaintext", s.Name, key)
			}
		}
	}
	assertNotOutsideSecrets(t, ns, text, hash)
}

// assertNotOutsideSecrets checks that no ConfigMap, custom resource or event
// of the namespace holds any of the values.
func assertNotOutsideSecrets(t *testing.T, ns string, values ...string) {
	t.Helper()
	ctx := context.Background()
	cms := &corev1.ConfigMapList{}
	if err := k8sClient.List(ctx, cms, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	var texts []string
	for _, cm := range cms.Items {
		for _, v := range cm.Data {
			texts = append(texts, v)
		}
		for _, v := range cm.BinaryData {
			texts = append(texts, string(v))
		}
	}
	noSecretsIn(t, "a ConfigMap", texts, values...)
	for _, list := range []client.ObjectList{&v1alpha1.ApiTokenList{}, &v1alpha1.EnvironmentList{}, &v1alpha1.AppAPIList{}, &eventsv1.EventList{}} {
		if err := k8sClient.List(ctx, list, client.InNamespace(ns)); err != nil {
			t.Fatal(err)
		}
		j, _ := json.Marshal(list)
		noSecretsIn(t, fmt.Sprintf("a %T", list), []string{string(j)}, values...)
	}
}

func wantEvent(t *testing.T, ns, object, reason string) {
	t.Helper()
	eventually(t, "event "+reason+" on "+object, func() error {
		list := &eventsv1.EventList{}
		if err := k8sClient.List(context.Background(), list, client.InNamespace(ns)); err != nil {
			return err
		}
		for _, e := range list.Items {
			if e.Regarding.Name == object && e.Reason == reason {
				return nil
			}
		}
		return fmt.Errorf("%d events, none %s", len(list.Items), reason)
	})
}

func TestTokenRotation(t *testing.T) {
	ns := newNamespace(t)
	create(t, newEnvironment(ns, "prod"))

	for _, tc := range []struct {
		name  string
		grace v1alpha1.Duration
	}{
		{name: "no-grace"},
		{name: "with-grace", grace: "3s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok := newToken(ns, tc.name, "prod")
			tok.Spec.RotationGracePeriod = tc.grace
			create(t, tok)
			oldText := tokenText(t, ns, tc.name+"-token")
			waitTokenReady(t, tok)
			oldID := tok.Status.TokenID

			patch := client.MergeFrom(tok.DeepCopy())
			tok.Annotations = map[string]string{v1alpha1.RotateAnnotation: "2026-11-27T12:00:00Z"}
			if err := k8sClient.Patch(context.Background(), tok, patch); err != nil {
				t.Fatal(err)
			}
			var newText string
			eventually(t, "a new token is minted into the same Secret", func() error {
				newText = tokenText(t, ns, tc.name+"-token")
				if newText == oldText {
					return fmt.Errorf("the Secret still holds the old token")
				}
				return nil
			})
			eventually(t, "the new token is published and Ready", func() error {
				if err := get(t, ns, tc.name, tok); err != nil {
					return err
				}
				if tok.Status.TokenID == oldID {
					return fmt.Errorf("status.tokenID is still the old one")
				}
				hashes, err := publishedHashes(ns, "prod")
				if err != nil {
					return err
				}
				if hashes[snapshot.HashToken(newText)] == "" {
					return fmt.Errorf("new token not published")
				}
				return wantCondition(tok, tok.Status.Conditions, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonTokenActive)
			})
			hashes, _ := publishedHashes(ns, "prod")
			oldPublished := hashes[snapshot.HashToken(oldText)] != ""
			if tc.grace == "" && oldPublished {
				t.Fatal("without a grace period the rotated token is still accepted")
			}
			if tc.grace != "" {
				if !oldPublished {
					t.Fatal("the rotated token stopped working before its grace period ended")
				}
				took := eventually(t, "the rotated token stops working after the grace period", func() error {
					hashes, err := publishedHashes(ns, "prod")
					if err != nil {
						return err
					}
					if hashes[snapshot.HashToken(oldText)] != "" {
						return fmt.Errorf("old token still published")
					}
					return nil
				})
				t.Logf("old token dropped %s after the rotation was seen (grace %s)", took, tc.grace)
			}
			wantEvent(t, ns, tc.name, "Rotated")
		})
	}
}

func TestTokenExpiry(t *testing.T) {
	ns := newNamespace(t)
	create(t, newEnvironment(ns, "prod"))
	tok := newToken(ns, "short-lived", "prod")
	expires := metav1.NewTime(time.Now().Add(4 * time.Second).Truncate(time.Second))
	tok.Spec.ExpiresAt = &expires
	create(t, tok)
	text := tokenText(t, ns, "short-lived-token")
	// Ready may already be past on a slow machine; the end state is what matters.
	eventually(t, "the token turns Expired", func() error {
		if err := get(t, ns, tok.Name, tok); err != nil {
			return err
		}
		return wantCondition(tok, tok.Status.Conditions, v1alpha1.ConditionReady, metav1.ConditionFalse, v1alpha1.ReasonExpired)
	})
	if time.Now().Before(expires.Time) {
		t.Fatalf("reported Expired before %s", expires)
	}
	if s, err := kstatus(tok); err != nil || s != "Failed" {
		t.Errorf("kstatus = %s, %v; an expired token is Failed until someone changes it", s, err)
	}
	if !tok.Status.ExpiresAt.Equal(&expires) {
		t.Errorf("status.expiresAt = %v, want %v", tok.Status.ExpiresAt, expires)
	}
	// It stays published with its expiry, so that the gateway refuses it
	// as expired rather than as unknown.
	hashes, err := publishedExpiries(ns, "prod")
	if err != nil {
		t.Fatal(err)
	}
	if exp, ok := hashes[snapshot.HashToken(text)]; !ok || exp == nil || !exp.Equal(expires.Time) {
		t.Errorf("published expiry %v (published %v), want %v", exp, ok, expires.Time)
	}
}

func TestTokenWaitsForItsEnvironment(t *testing.T) {
	ns := newNamespace(t)
	tok := newToken(ns, "early", "later")
	create(t, tok)
	eventually(t, "EnvironmentNotFound", func() error {
		if err := get(t, ns, tok.Name, tok); err != nil {
			return err
		}
		return wantCondition(tok, tok.Status.Conditions, v1alpha1.ConditionReady, metav1.ConditionFalse, v1alpha1.ReasonEnvironmentNotFound)
	})
	if err := get(t, ns, "early-token", &corev1.Secret{}); !apierrors.IsNotFound(err) {
		t.Fatalf("a token was minted for a missing Environment (err %v)", err)
	}
	create(t, newEnvironment(ns, "later"))
	tokenText(t, ns, "early-token")
	waitTokenReady(t, tok)
}

func TestTokenRefusesSomeoneElsesSecret(t *testing.T) {
	ns := newNamespace(t)
	create(t, newEnvironment(ns, "prod"))
	create(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "taken"},
		Data: map[string][]byte{"password": []byte("hunter2")}})
	tok := newToken(ns, "clash", "prod")
	tok.Spec.SecretName = "taken"
	create(t, tok)
	eventually(t, "SecretConflict", func() error {
		if err := get(t, ns, tok.Name, tok); err != nil {
			return err
		}
		return wantCondition(tok, tok.Status.Conditions, v1alpha1.ConditionReady, metav1.ConditionFalse, v1alpha1.ReasonSecretConflict)
	})
	s := &corev1.Secret{}
	if err := get(t, ns, "taken", s); err != nil || string(s.Data["password"]) != "hunter2" || len(s.Data) != 1 {
		t.Fatalf("someone else's Secret was changed: %v %v", err, s.Data)
	}
}

// TestTokenRefusesReservedSecretNames: a token Secret must not take the
// name of an Environment's signing key or credentials, or of a token
// record. The API server refuses them; the controller refuses objects
// stored before the rule (TestApiTokenStatus, TestReservedSecretNames).
func TestTokenRefusesReservedSecretNames(t *testing.T) {
	ns := newNamespace(t)
	create(t, newEnvironment(ns, "prod"))
	for _, name := range []string{signingKeyName("prod"), snapshot.CredentialsName("prod"), tokenRecordName("other"), snapshot.CredentialsName("not-yet")} {
		tok := newToken(ns, "grab", "prod")
		tok.Spec.SecretName = name
		err := k8sClient.Create(context.Background(), tok)
		if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "secretName is reserved") {
			t.Errorf("creating an ApiToken with secretName %q: %v, want it refused as reserved", name, err)
		}
	}
}
