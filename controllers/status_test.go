package controllers

import (
	"errors"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/appapi-dev/appapi/api/v1alpha1"
	"github.com/appapi-dev/appapi/internal/token"
	"github.com/appapi-dev/appapi/internal/translate"
)

// These table tests cover the pure status functions; the envtest suites
// show the statuses reaching the API server.

func deployment(replicas int32, observed bool, available bool) *appsv1.Deployment {
	d := &appsv1.Deployment{Spec: appsv1.DeploymentSpec{Replicas: ptr.To(replicas)}}
	d.Generation = 2
	if observed {
		d.Status.ObservedGeneration = 2
	}
	if available {
		d.Status.AvailableReplicas = replicas
		d.Status.Conditions = []appsv1.DeploymentCondition{{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionTrue}}
	}
	return d
}

func TestEnvironmentStatus(t *testing.T) {
	tests := []struct {
		name        string
		obs         environmentObservation
		wantReady   bool
		wantReason  string
		wantMessage string
		wantObsGen  int64
		wantStalled bool
	}{
		{name: "available", obs: environmentObservation{Deployment: deployment(2, true, true), SnapshotGeneration: 7, AppAPIs: 3, Tokens: 1},
			wantReady: true, wantReason: v1alpha1.ReasonGatewayAvailable, wantMessage: "2 of 2 gateway replicas available", wantObsGen: 5},
		{name: "scaled to zero", obs: environmentObservation{Deployment: deployment(0, true, false)},
			wantReady: true, wantReason: v1alpha1.ReasonGatewayAvailable, wantMessage: "scaled to zero", wantObsGen: 5},
		{name: "rollout not observed", obs: environmentObservation{Deployment: deployment(1, false, false)},
			wantReason: v1alpha1.ReasonProgressing, wantMessage: "rolling out", wantObsGen: 5},
		{name: "unavailable", obs: environmentObservation{Deployment: deployment(1, true, false)},
			wantReason: v1alpha1.ReasonGatewayUnavailable, wantMessage: "0 of 1", wantObsGen: 5},
		{name: "no deployment yet", obs: environmentObservation{},
			wantReason: v1alpha1.ReasonProgressing, wantObsGen: 5},
		{name: "bad signing key wins over availability", obs: environmentObservation{Deployment: deployment(1, true, true), SigningKeyErr: errors.New("Secret k: not PEM")},
			wantReason: v1alpha1.ReasonSigningKeyInvalid, wantMessage: "not PEM", wantObsGen: 5, wantStalled: true},
		{name: "snapshot too large", obs: environmentObservation{Deployment: deployment(1, true, true),
			SnapshotErr: &snapshotError{reason: v1alpha1.ReasonSnapshotTooLarge, err: errors.New("40000 routes do not fit")}},
			wantReason: v1alpha1.ReasonSnapshotTooLarge, wantMessage: "keeps serving the last published snapshot", wantObsGen: 5, wantStalled: true},
		{name: "missing secret", obs: environmentObservation{Deployment: deployment(1, true, true), MissingSecrets: []string{`db (key "pw" of Secret "x")`}},
			wantReason: v1alpha1.ReasonSecretNotFound, wantMessage: `Secret "x"`, wantObsGen: 5},
		{name: "secret without consent", obs: environmentObservation{Deployment: deployment(1, true, true), RefusedSecrets: []string{`db (Secret "x")`}},
			wantReason: v1alpha1.ReasonSecretNotAllowed, wantMessage: "appapi.dev/environment-secret=true", wantObsGen: 5, wantStalled: true},
		{name: "sqlite with more than one replica", obs: environmentObservation{Deployment: deployment(1, true, true), RefusedReplicas: 3},
			wantReason: v1alpha1.ReasonEmbeddedDatastoreSingleReplica, wantMessage: "spec.gateway.replicas is 3, but spec.datastore.sqlite keeps the records in a file that one gateway process opens: " +
				"set spec.gateway.replicas to 1, or use spec.datastore.postgres to run several replicas; the gateway runs 1 replica meanwhile", wantObsGen: 5, wantStalled: true},
		{name: "datastore URL missing", obs: environmentObservation{Deployment: deployment(1, true, true),
			DatastoreProblem: &translate.Problem{Reason: v1alpha1.ReasonSecretNotFound, Message: "spec.datastore.postgres.secretKeyRef: key \"url\" of Secret \"db\" does not exist"}},
			wantReason: v1alpha1.ReasonSecretNotFound, wantMessage: "spec.datastore.postgres.secretKeyRef", wantObsGen: 5},
		{name: "datastore URL without consent", obs: environmentObservation{Deployment: deployment(1, true, true),
			DatastoreProblem: &translate.Problem{Reason: v1alpha1.ReasonSecretNotAllowed, Message: "spec.datastore.postgres.secretKeyRef: Secret \"db\" lacks the label"}},
			wantReason: v1alpha1.ReasonSecretNotAllowed, wantMessage: "spec.datastore.postgres.secretKeyRef", wantObsGen: 5, wantStalled: true},
		{name: "datastore URL invalid", obs: environmentObservation{Deployment: deployment(1, true, true),
			DatastoreProblem: &translate.Problem{Reason: v1alpha1.ReasonDatastoreURLInvalid, Message: "spec.datastore.postgres.secretKeyRef: key \"url\" of Secret \"db\" is not a postgres:// or postgresql:// URL"}},
			wantReason: v1alpha1.ReasonDatastoreURLInvalid, wantMessage: "is not a postgres://", wantObsGen: 5, wantStalled: true},
		{name: "a claim that does not follow the spec is noted, and the Environment stays ready", obs: environmentObservation{Deployment: deployment(1, true, true),
			DataClaimNotes: []string{"spec.datastore.sqlite.storage 1Gi is smaller than the 2Gi PersistentVolumeClaim appapi-prod-data requests"}},
			wantReady: true, wantReason: v1alpha1.ReasonGatewayAvailable, wantMessage: "1 of 1 gateway replicas available; spec.datastore.sqlite.storage 1Gi is smaller", wantObsGen: 5},
		{name: "reconcile error keeps observedGeneration", obs: environmentObservation{ReconcileErr: errors.New("connection refused")},
			wantReason: v1alpha1.ReasonReconcileFailed, wantMessage: "connection refused", wantObsGen: 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old := v1alpha1.EnvironmentStatus{ObservedGeneration: 4, AppAPIs: 9}
			env := newEnvironment("ns", "prod")
			env.Generation = 5
			got := environmentStatus(old, env, tt.obs)
			c, err := condition(got.Conditions, v1alpha1.ConditionReady)
			if err != nil {
				t.Fatal(err)
			}
			if (c.Status == metav1.ConditionTrue) != tt.wantReady || c.Reason != tt.wantReason || !strings.Contains(c.Message, tt.wantMessage) {
				t.Errorf("Ready = %s/%s %q, want ready=%v %s containing %q", c.Status, c.Reason, c.Message, tt.wantReady, tt.wantReason, tt.wantMessage)
			}
			if got.ObservedGeneration != tt.wantObsGen || c.ObservedGeneration != 5 {
				t.Errorf("observedGeneration = %d (condition %d), want %d (condition 5)", got.ObservedGeneration, c.ObservedGeneration, tt.wantObsGen)
			}
			if stalled, err := condition(got.Conditions, v1alpha1.ConditionStalled); (err == nil) != tt.wantStalled || err == nil && stalled.Reason != tt.wantReason {
				t.Errorf("Stalled = %+v (%v), want present %v", stalled, err, tt.wantStalled)
			}
			if tt.obs.ReconcileErr != nil && got.AppAPIs != 9 {
				t.Errorf("a failed reconcile overwrote the counts: %d", got.AppAPIs)
			}
		})
	}
}

func TestApiTokenStatus(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	past, future := metav1.NewTime(now.Add(-time.Second)), metav1.NewTime(now.Add(time.Hour))
	record := &token.Record{Current: token.Entry{ID: "abc", Hash: strings.Repeat("f", 64), IssuedAt: now}}
	tests := []struct {
		name        string
		expiresAt   *metav1.Time
		obs         tokenObservation
		wantReady   bool
		wantReason  string
		wantStalled bool
	}{
		{name: "active", obs: tokenObservation{Record: record, Published: true}, wantReady: true, wantReason: v1alpha1.ReasonTokenActive},
		{name: "minted, not yet published", obs: tokenObservation{Record: record}, wantReason: v1alpha1.ReasonPublishing},
		{name: "expired", expiresAt: &past, obs: tokenObservation{Record: record, Published: true}, wantReason: v1alpha1.ReasonExpired, wantStalled: true},
		{name: "expires later", expiresAt: &future, obs: tokenObservation{Record: record, Published: true}, wantReady: true, wantReason: v1alpha1.ReasonTokenActive},
		{name: "no environment", obs: tokenObservation{EnvironmentMissing: true}, wantReason: v1alpha1.ReasonEnvironmentNotFound},
		{name: "no signing key", obs: tokenObservation{SigningKeyPending: true}, wantReason: v1alpha1.ReasonSigningKeyPending},
		{name: "secret conflict", obs: tokenObservation{SecretConflict: "Secret x exists"}, wantReason: v1alpha1.ReasonSecretConflict, wantStalled: true},
		{name: "reserved secret name", obs: tokenObservation{SecretNameReserved: true}, wantReason: v1alpha1.ReasonSecretNameReserved, wantStalled: true},
		{name: "error", obs: tokenObservation{ReconcileErr: errors.New("boom")}, wantReason: v1alpha1.ReasonReconcileFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok := newToken("ns", "partner", "prod")
			tok.Generation = 3
			tok.Spec.ExpiresAt = tt.expiresAt
			tt.obs.Now = now
			got := apiTokenStatus(v1alpha1.ApiTokenStatus{}, tok, tt.obs)
			c, err := condition(got.Conditions, v1alpha1.ConditionReady)
			if err != nil {
				t.Fatal(err)
			}
			if (c.Status == metav1.ConditionTrue) != tt.wantReady || c.Reason != tt.wantReason {
				t.Errorf("Ready = %s/%s (%q), want ready=%v %s", c.Status, c.Reason, c.Message, tt.wantReady, tt.wantReason)
			}
			if stalled, err := condition(got.Conditions, v1alpha1.ConditionStalled); (err == nil) != tt.wantStalled || err == nil && stalled.Reason != tt.wantReason {
				t.Errorf("Stalled = %+v (%v), want present %v", stalled, err, tt.wantStalled)
			}
			if got.SecretName != "partner-token" {
				t.Errorf("secretName = %q", got.SecretName)
			}
			if tt.obs.Record != nil && got.TokenID != "abc" {
				t.Errorf("tokenID = %q", got.TokenID)
			}
			if strings.Contains(c.Message, record.Current.Hash) {
				t.Error("the condition message holds the token hash")
			}
			if wantGen := map[bool]int64{true: 0, false: 3}[tt.obs.ReconcileErr != nil]; got.ObservedGeneration != wantGen {
				t.Errorf("observedGeneration = %d, want %d", got.ObservedGeneration, wantGen)
			}
		})
	}
}

func TestAppAPIStatus(t *testing.T) {
	accepted := translate.Verdict{Accepted: true, Reason: v1alpha1.ReasonAccepted, Message: "valid"}
	refused := translate.Verdict{Reason: v1alpha1.ReasonInvalidExpression, Message: "spec.response.body: syntax error"}
	waiting := translate.Verdict{Reason: v1alpha1.ReasonTokenNotFound, Message: "no ApiToken x"}
	noDatastore := translate.Verdict{Reason: v1alpha1.ReasonNoDatastore, Message: `spec.steps[0].store: step "save" is a store step, but environment "prod" has no spec.datastore`}
	tests := []struct {
		name         string
		verdict      translate.Verdict
		served       int64
		wantAccepted bool
		wantReady    bool
		wantReason   string
		wantStalled  bool
	}{
		{name: "current generation served", verdict: accepted, served: 4, wantAccepted: true, wantReady: true, wantReason: v1alpha1.ReasonServed},
		{name: "refused, older generation served", verdict: refused, served: 2, wantReason: v1alpha1.ReasonServingPreviousGeneration, wantStalled: true},
		{name: "refused, never served", verdict: refused, wantReason: v1alpha1.ReasonNotServed, wantStalled: true},
		{name: "refused until a named token exists", verdict: waiting, wantReason: v1alpha1.ReasonNotServed},
		{name: "accepted earlier, refused now, still served", verdict: waiting, served: 4, wantReady: true, wantReason: v1alpha1.ReasonServed},
		{name: "accepted but not published", verdict: accepted, wantAccepted: true, wantReason: v1alpha1.ReasonNotServed},
		// Fixed by giving the Environment a datastore, not by editing the AppAPI.
		{name: "refused until the Environment has a datastore", verdict: noDatastore, wantReason: v1alpha1.ReasonNotServed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			app := newAppAPI("ns", "orders", "prod", "GET", "/orders", "1")
			app.Generation = 4
			got := appAPIStatus(v1alpha1.AppAPIStatus{}, app, appAPIObservation{Verdict: tt.verdict, Served: tt.served, URL: "http://x/y"})
			a, _ := condition(got.Conditions, v1alpha1.ConditionAccepted)
			r, _ := condition(got.Conditions, v1alpha1.ConditionReady)
			if (a.Status == metav1.ConditionTrue) != tt.wantAccepted || a.Reason != tt.verdict.Reason || a.Message != tt.verdict.Message {
				t.Errorf("Accepted = %s/%s %q", a.Status, a.Reason, a.Message)
			}
			if (r.Status == metav1.ConditionTrue) != tt.wantReady || r.Reason != tt.wantReason {
				t.Errorf("Ready = %s/%s %q, want %v/%s", r.Status, r.Reason, r.Message, tt.wantReady, tt.wantReason)
			}
			if stalled, err := condition(got.Conditions, v1alpha1.ConditionStalled); (err == nil) != tt.wantStalled || err == nil && stalled.Reason != tt.verdict.Reason {
				t.Errorf("Stalled = %+v (%v), want present %v", stalled, err, tt.wantStalled)
			}
			if got.ServedGeneration != tt.served || got.ObservedGeneration != 4 || a.ObservedGeneration != 4 || r.ObservedGeneration != 4 {
				t.Errorf("generations: served %d observed %d conditions %d/%d", got.ServedGeneration, got.ObservedGeneration, a.ObservedGeneration, r.ObservedGeneration)
			}
		})
	}
}

func TestSetConditionKeepsTransitionTimeAndTruncates(t *testing.T) {
	var conds []metav1.Condition
	setCondition(&conds, 1, "Ready", true, "A", "first")
	first := conds[0].LastTransitionTime
	setCondition(&conds, 2, "Ready", true, "B", strings.Repeat("x", 5000))
	if !conds[0].LastTransitionTime.Equal(&first) {
		t.Error("transition time changed although the status did not")
	}
	if len(conds[0].Message) > maxConditionMessage || conds[0].ObservedGeneration != 2 {
		t.Errorf("message of %d bytes, generation %d", len(conds[0].Message), conds[0].ObservedGeneration)
	}
}
