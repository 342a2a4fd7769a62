package metrics

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/appapi-dev/appapi/api/v1alpha1"
)

// TestStepDurationByOperation: each step is counted under its operation
// and outcome, and the series' help names every operation the label takes,
// so that whoever writes a query knows the values.
func TestStepDurationByOperation(t *testing.T) {
	m := New()
	m.StepDone("orders", "fetch", "http", time.Millisecond, nil)
	m.StepDone("orders", "check", "validate", time.Millisecond, errors.New("violations"))
	families, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var help string
	var series []string
	for _, mf := range families {
		if mf.GetName() != "appapi_gateway_step_duration_seconds" {
			continue
		}
		help = mf.GetHelp()
		for _, metric := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range metric.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			series = append(series, labels["appapi"]+"/"+labels["step"]+"/"+labels["operation"]+"/"+labels["outcome"])
		}
	}
	slices.Sort(series)
	if got, want := strings.Join(series, " "), "orders/check/validate/error orders/fetch/http/ok"; got != want {
		t.Errorf("series = %s, want %s", got, want)
	}
	if want := "operation (" + strings.Join(v1alpha1.StepOperations(), ", ") + ")"; !strings.Contains(help, want) {
		t.Errorf("help %q does not list the operations as %q", help, want)
	}
}

// TestStoreOperations: datastore operations are counted by collection,
// operation and outcome, timed by operation, and the help lists the values
// the operation and outcome labels take.
func TestStoreOperations(t *testing.T) {
	m := New()
	m.StoreDone("contacts", "insert", "ok", time.Millisecond)
	m.StoreDone("contacts", "patch", "precondition_failed", time.Millisecond)
	m.StoreDone("contacts", "patch", "precondition_failed", time.Millisecond)
	families, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]bool{}
	for _, mf := range families {
		switch mf.GetName() {
		case "appapi_gateway_store_operations_total":
			found[mf.GetName()] = true
			for _, want := range []string{"operation (insert, get, query, put, patch, delete)",
				"outcome (ok, not_found, conflict, precondition_failed, invalid, too_large, unavailable, error)"} {
				if !strings.Contains(mf.GetHelp(), want) {
					t.Errorf("help %q does not list %q", mf.GetHelp(), want)
				}
			}
			var series []string
			for _, metric := range mf.GetMetric() {
				var labels []string
				for _, l := range metric.GetLabel() {
					labels = append(labels, l.GetValue())
				}
				series = append(series, strings.Join(labels, "/")+"="+strconv.Itoa(int(metric.GetCounter().GetValue())))
			}
			slices.Sort(series)
			if got, want := strings.Join(series, " "), "contacts/insert/ok=1 contacts/patch/precondition_failed=2"; got != want {
				t.Errorf("series = %s, want %s", got, want)
			}
		case "appapi_gateway_store_operation_duration_seconds":
			found[mf.GetName()] = true
			if n := len(mf.GetMetric()); n != 2 {
				t.Errorf("%d latency series, want one per operation (2)", n)
			}
		}
	}
	if len(found) != 2 {
		t.Errorf("families found: %v", found)
	}
}
