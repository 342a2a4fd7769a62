package pipeline

import (
	"maps"
	"slices"
	"testing"

	"github.com/appapi-dev/appapi/api/v1alpha1"
)

// TestEveryOperationHasACompiler: an operation of the API without a
// registered compiler would make every AppAPI using it fail to compile, and
// a compiler under a name the API does not have would never run.
func TestEveryOperationHasACompiler(t *testing.T) {
	want := slices.Sorted(slices.Values(v1alpha1.StepOperations()))
	if got := slices.Sorted(maps.Keys(operationCompilers)); !slices.Equal(got, want) {
		t.Errorf("registered operations = %v, want those of v1alpha1.Step: %v", got, want)
	}
}
