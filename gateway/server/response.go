package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/appapi-dev/appapi/gateway/pipeline"
)

// Why writeResult did not write a body, as problem details.
var (
	errTooDeep = fmt.Errorf("the response body nests more than %d levels deep", pipeline.MaxResponseDepth)
	errNotJSON = errors.New("the response body cannot be encoded as JSON (NaN or infinity?)")
)

// writeResult writes a pipeline's answer: JSON by default, and a string body
// as is when the AppAPI set a Content-Type that is not JSON. When the body
// cannot be encoded (NaN, infinity, or nested deeper than
// pipeline.MaxResponseDepth, which encoding/json would recurse through
// until the stack overflows) it writes nothing and returns errTooDeep or
// errNotJSON.
func writeResult(w http.ResponseWriter, res *pipeline.Result) error {
	var body []byte
	encoded := false
	if text, ok := res.Body.(string); ok && isTextContentType(res.Headers.Get("Content-Type")) {
		body = []byte(text)
	} else if res.Body != nil {
		if pipeline.ExceedsDepth(res.Body, pipeline.MaxResponseDepth) {
			return errTooDeep
		}
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(res.Body); err != nil {
			return errNotJSON
		}
		body = buf.Bytes()
		encoded = true
	}
	h := w.Header()
	for name, values := range res.Headers {
		h[name] = values
	}
	if res.Redirect != "" {
		h.Set("Location", res.Redirect)
	}
	if encoded && h.Get("Content-Type") == "" {
		h.Set("Content-Type", "application/json")
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(res.Status)
	_, _ = w.Write(body)
	return nil
}

func isTextContentType(ct string) bool {
	if ct == "" {
		return false
	}
	mediaType, _, err := mime.ParseMediaType(ct)
	return err == nil && mediaType != "application/json" && !strings.HasSuffix(mediaType, "+json")
}
