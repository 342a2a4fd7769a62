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
// as is when the AppAPI set a Content-Type that is not JSON.
func writeResult(w http.ResponseWriter, res *pipeline.Result) {
	h := w.Header()
	for name, values := range res.Headers {
		h[name] = values
	}
	if res.Redirect != "" {
		h.Set("Location", res.Redirect)
	}
	var body []byte
	if text, ok := res.Body.(string); ok && isTextContentType(h.Get("Content-Type")) {
		body = []byte(text)
	} else if res.Body != nil {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(res.Body); err != nil {
			http.Error(w, "the response body cannot be encoded as JSON", http.StatusInternalServerError)
			return
		}
		body = buf.Bytes()
		if h.Get("Content-Type") == "" {
			h.Set("Content-Type", "application/json")
		}
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(res.Status)
	_, _ = w.Write(body)
}

func isTextContentType(ct string) bool {
	if ct == "" {
		return false
	}
	mediaType, _, err := mime.ParseMediaType(ct)
	return err == nil && mediaType != "application/json" && !strings.HasSuffix(mediaType, "+json")
}
