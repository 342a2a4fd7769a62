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
	"sync"

	"github.com/appapi-dev/appapi/gateway/pipeline"
)

// Why encodeResult could not encode a body, as problem details.
var (
	errTooDeep = fmt.Errorf("the response body nests more than %d levels deep", pipeline.MaxResponseDepth)
	errNotJSON = errors.New("the response body cannot be encoded as JSON (NaN or infinity?)")
)

// answer is a pipeline's result encoded for the wire, so that it can be
// written after the pipeline's slot is given back.
type answer struct {
	res     *pipeline.Result
	body    []byte
	encoded bool
	// buf holds body when it was encoded, until release.
	buf *bytes.Buffer
}

// answerBuffers holds the buffers answers are encoded into, so that
// encoding one does not grow a new buffer each time.
var answerBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// maxPooledAnswer bounds the buffers kept for reuse: one large answer
// must not pin its size in the pool.
const maxPooledAnswer = 64 << 10

// release gives the answer's buffer back once it is written; the answer
// is not used after.
func (a *answer) release() {
	if a.buf != nil && a.buf.Cap() <= maxPooledAnswer {
		answerBuffers.Put(a.buf)
	}
	a.buf, a.body = nil, nil
}

// encodeResult encodes a pipeline's answer: JSON by default, and a string
// body as is when the AppAPI set a Content-Type that is not JSON. When the
// body cannot be encoded (NaN, infinity, or nested deeper than
// pipeline.MaxResponseDepth, which encoding/json would recurse through
// until the stack overflows) it returns errTooDeep or errNotJSON.
func encodeResult(res *pipeline.Result) (*answer, error) {
	a := &answer{res: res}
	if text, ok := res.Body.(string); ok && isTextContentType(res.Headers.Get("Content-Type")) {
		a.body = []byte(text)
	} else if res.Body != nil {
		if pipeline.ExceedsDepth(res.Body, pipeline.MaxResponseDepth) {
			return nil, errTooDeep
		}
		a.buf = answerBuffers.Get().(*bytes.Buffer)
		a.buf.Reset()
		enc := json.NewEncoder(a.buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(res.Body); err != nil {
			a.release()
			return nil, errNotJSON
		}
		a.body = a.buf.Bytes()
		a.encoded = true
	}
	return a, nil
}

// write writes the answer's headers and body.
func (a *answer) write(w http.ResponseWriter) {
	h := w.Header()
	for name, values := range a.res.Headers {
		h[name] = values
	}
	if a.res.Redirect != "" {
		h.Set("Location", a.res.Redirect)
	}
	if a.encoded && h.Get("Content-Type") == "" {
		h.Set("Content-Type", "application/json")
	}
	h.Set("Content-Length", strconv.Itoa(len(a.body)))
	w.WriteHeader(a.res.Status)
	_, _ = w.Write(a.body)
}

func isTextContentType(ct string) bool {
	if ct == "" {
		return false
	}
	mediaType, _, err := mime.ParseMediaType(ct)
	return err == nil && mediaType != "application/json" && !strings.HasSuffix(mediaType, "+json")
}
