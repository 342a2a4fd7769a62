package server

import (
	"bytes"
	"encoding/json"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/appapi-dev/appapi/gateway/pipeline"
)

// writeResult writes a pipeline's answer: JSON by default, and a string body
// as is when the AppAPI set a Content-Type that is not JSON. When the body
// cannot be encoded (NaN, infinity) it writes nothing and returns the error.
func writeResult(w http.ResponseWriter, res *pipeline.Result) error {
	var body []byte
	encoded := false
	if text, ok := res.Body.(string); ok && isTextContentType(res.Headers.Get("Content-Type")) {
		body = []byte(text)
	} else if res.Body != nil {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(res.Body); err != nil {
			return err
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
