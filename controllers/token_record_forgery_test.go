package controllers

import (
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/appapi-dev/appapi/api/v1alpha1"
	"github.com/appapi-dev/appapi/internal/snapshot"
	"github.com/appapi-dev/appapi/internal/token"
)

// TestForgedTokenRecordsAreNotPublished: whoever may create Secrets in the
// namespace can copy a record's labels and owner reference, but not take
// the name the token controller already wrote. Such records must not add a
// hash the gateway accepts.
func TestForgedTokenRecordsAreNotPublished(t *testing.T) {
	ns := newNamespace(t)
	create(t, newEnvironment(ns, "prod"))
	partner := newToken(ns, "partner", "prod")
	create(t, partner)
	waitTokenReady(t, partner)

	owner := metav1.OwnerReference{APIVersion: v1alpha1.GroupVersion.String(), Kind: "ApiToken",
		Name: partner.Name, UID: partner.UID, Controller: ptr.To(true)}
	forge := func(name, tokenLabel, text string, owners ...metav1.OwnerReference) string {
		record, err := token.NewRecord(token.Minted{Text: text, ID: "forged-" + name, IssuedAt: time.Now()}, partner).Marshal()
		if err != nil {
			t.Fatal(err)
		}
		create(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, OwnerReferences: owners,
			Labels: map[string]string{LabelManagedBy: ManagedByValue, LabelComponent: ComponentTokenRecord,
				LabelEnvironment: "prod", LabelToken: tokenLabel}},
			Data: map[string][]byte{token.RecordKey: record}})
		return snapshot.HashToken(text)
	}
	forged := map[string]string{
		// Right labels and owner, a name of the attacker's choosing.
		forge("partner-extra", "partner", "forged-1", owner): "right labels and owner, wrong name",
		// The record name of an ApiToken that does not exist, labelled
		// and owned as partner's.
		forge(tokenRecordName("ghost"), "partner", "forged-2", owner): "another token's record name",
		// The record name of an ApiToken about to be created, owned by
		// another: its controller replaces it.
		forge(tokenRecordName("victim"), "victim", "forged-3", owner): "right name, not owned",
	}

	// Published after the forgeries were in the manager's cache: the
	// victim's record comes later on the same watch.
	victim := newToken(ns, "victim", "prod")
	create(t, victim)
	waitTokenReady(t, victim)
	eventually(t, "the victim's own token is published", func() error {
		hashes, err := publishedHashes(ns, "prod")
		if err != nil {
			return err
		}
		names := map[string]int{}
		for _, name := range hashes {
			names[name]++
		}
		if names["partner/"+partner.Status.TokenID] != 1 || names["victim/"+victim.Status.TokenID] != 1 {
			return fmt.Errorf("published %v", hashes)
		}
		return nil
	})
	hashes, err := publishedHashes(ns, "prod")
	if err != nil {
		t.Fatal(err)
	}
	for hash, what := range forged {
		if name, ok := hashes[hash]; ok {
			t.Errorf("a forged record (%s) was published as %s", what, name)
		}
	}
	if len(hashes) != 2 {
		t.Errorf("published %d hashes, want partner's and victim's", len(hashes))
	}
}
