package server

import (
	"net/http/httptest"
	"testing"

	"github.com/appapi-dev/appapi/gateway/pipeline"
)

// TestEncodeResultDepth: a body nested deeper than MaxResponseDepth is not
// encoded (encoding/json recurses per level), so the caller can answer with
// a problem; one at the limit is written.
func TestEncodeResultDepth(t *testing.T) {
	nested := func(levels int) any {
		v := any([]any{})
		for range levels - 1 {
			v = map[string]any{"a": v}
		}
		return v
	}
	rec := httptest.NewRecorder()
	a, err := encodeResult(&pipeline.Result{Status: 200, Body: nested(pipeline.MaxResponseDepth)})
	if err != nil {
		t.Fatalf("%d levels: %v; want it encoded", pipeline.MaxResponseDepth, err)
	}
	if a.write(rec); rec.Code != 200 || rec.Body.Len() == 0 {
		t.Errorf("%d levels: status %d, %d bytes; want it written", pipeline.MaxResponseDepth, rec.Code, rec.Body.Len())
	}
	if _, err := encodeResult(&pipeline.Result{Status: 200, Body: nested(pipeline.MaxResponseDepth + 1)}); err != errTooDeep {
		t.Errorf("%d levels: %v; want errTooDeep", pipeline.MaxResponseDepth+1, err)
	}
	if want := "the response body nests more than 1000 levels deep"; errTooDeep.Error() != want {
		t.Errorf("detail %q, want %q", errTooDeep, want)
	}
}
