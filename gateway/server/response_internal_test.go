package server

import (
	"net/http/httptest"
	"testing"

	"github.com/appapi-dev/appapi/gateway/pipeline"
)

// TestWriteResultDepth: a body nested deeper than MaxResponseDepth is not
// encoded (encoding/json recurses per level) and nothing is written, so the
// caller can answer with a problem; one at the limit is written.
func TestWriteResultDepth(t *testing.T) {
	nested := func(levels int) any {
		v := any([]any{})
		for range levels - 1 {
			v = map[string]any{"a": v}
		}
		return v
	}
	rec := httptest.NewRecorder()
	if err := writeResult(rec, &pipeline.Result{Status: 200, Body: nested(pipeline.MaxResponseDepth)}); err != nil || rec.Code != 200 {
		t.Errorf("%d levels: %v, status %d; want it written", pipeline.MaxResponseDepth, err, rec.Code)
	}
	rec = httptest.NewRecorder()
	err := writeResult(rec, &pipeline.Result{Status: 200, Body: nested(pipeline.MaxResponseDepth + 1)})
	if err != errTooDeep || rec.Body.Len() != 0 || len(rec.Header()) != 0 {
		t.Errorf("%d levels: %v, wrote %d bytes and headers %v; want errTooDeep and nothing written",
			pipeline.MaxResponseDepth+1, err, rec.Body.Len(), rec.Header())
	}
	if want := "the response body nests more than 1000 levels deep"; errTooDeep.Error() != want {
		t.Errorf("detail %q, want %q", errTooDeep, want)
	}
}
