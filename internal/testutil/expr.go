package testutil

import (
	"sync"
	"testing"

	"github.com/appapi-dev/appapi/gateway/expr"
)

var compiler = sync.OnceValues(expr.NewCompiler)

// Compiler returns the CEL compiler the tests of one test binary share, as
// the gateway and the controllers share one: building it is slow.
func Compiler(t testing.TB) *expr.Compiler {
	t.Helper()
	c, err := compiler()
	if err != nil {
		t.Fatalf("expr.NewCompiler: %v", err)
	}
	return c
}
