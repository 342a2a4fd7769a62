package translate

import (
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/appapi-dev/appapi/api/v1alpha1"
	"github.com/appapi-dev/appapi/gateway/expr"
)

// TestTranslateLeavesItsInputAlone: the manager hands Translate the AppAPIs
// of its informer cache without copying them, so a write to one would
// corrupt the cache every later reconcile reads. Every golden input is
// translated twice, the second time from the compile caches.
func TestTranslateLeavesItsInputAlone(t *testing.T) {
	env, err := expr.NewCompiler()
	if err != nil {
		t.Fatal(err)
	}
	states, err := filepath.Glob("testdata/*/[0-9]*.yaml")
	if err != nil || len(states) == 0 {
		t.Fatalf("no golden inputs: %v", err)
	}
	for _, state := range states {
		t.Run(state, func(t *testing.T) {
			in := readInput(t, state, nil)
			before := make([]v1alpha1.AppAPI, len(in.AppAPIs))
			for i := range in.AppAPIs {
				in.AppAPIs[i].DeepCopyInto(&before[i])
			}
			env0 := in.Environment.DeepCopy()
			tr := New(env)
			for range 2 {
				if _, err := tr.Translate(in); err != nil {
					t.Fatal(err)
				}
			}
			if diff := cmp.Diff(before, in.AppAPIs); diff != "" {
				t.Errorf("Translate changed its AppAPIs (-before +after):\n%s", diff)
			}
			if diff := cmp.Diff(env0, in.Environment); diff != "" {
				t.Errorf("Translate changed its Environment (-before +after):\n%s", diff)
			}
		})
	}
}
