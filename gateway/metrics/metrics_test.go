package metrics

import (
	"errors"
	"slices"
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
