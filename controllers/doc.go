// Package controllers is the manager's control loop: it turns Environments,
// ApiTokens and AppAPIs into one gateway per Environment and the snapshot
// that gateway serves. It owns every object it creates (gateway Deployment,
// Service, ServiceAccount, Role and RoleBinding, the signing key, the token
// Secrets and records, the snapshot's ConfigMaps and credentials Secret) and
// the status of all three kinds; it writes no spec. Setup registers both
// reconcilers, CacheOptions keeps the manager's cache to its own Secrets and
// ConfigMaps.
//
// Two reconcilers share one skeleton (objectReconciler, reconcile.go): get
// the object, run the deletion path or ensure the finalizer, run the kind's
// phases in order keeping the soonest requeue, then compute and patch the
// status.
//
//   - EnvironmentReconciler runs each Environment's gateway and publishes its
//     snapshot (signing key, gateway objects, snapshot). Since an AppAPI's
//     verdict depends on the other AppAPIs of its Environment, it rebuilds
//     the whole snapshot on any change and also writes every AppAPI's
//     status; there is no AppAPI reconciler.
//   - ApiTokenReconciler mints, rotates and revokes tokens: the text goes
//     once to the token's Secret, the hash to a record Secret that the
//     EnvironmentReconciler publishes.
//
// Status comes from pure functions, one per kind with one shape
// (environmentStatus, apiTokenStatus, appAPIStatus in *_status.go): the old
// status, the object and what the reconcile observed in, the new status
// out, table-tested in status_test.go. They set Ready (and Accepted for
// AppAPIs), add Stalled for the reasons api/v1alpha1 declares per kind, and
// write observedGeneration only after a reconcile without error, so that
// kstatus reads Current only once the controller has acted on the latest
// spec. The snapshot objects are read and written through
// internal/snapshot/store, as the gateway reads them.
package controllers
