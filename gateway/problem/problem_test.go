package problem

import (
	"encoding/json"
	"net/http/httptest"
	"testing"
)

func TestWrite(t *testing.T) {
	rec := httptest.NewRecorder()
	Write(rec, Problem{Status: 413, Detail: "the body is larger than 10 bytes", Instance: "/upload", RequestID: "r1",
		Errors: []Violation{{Pointer: "/a", Message: "bad"}}})
	if rec.Code != 413 || rec.Header().Get("Content-Type") != ContentType {
		t.Fatalf("status %d, content type %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	var got map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"type": "about:blank", "title": "Request Entity Too Large", "status": 413.0,
		"detail": "the body is larger than 10 bytes", "instance": "/upload", "requestId": "r1",
		"errors": []any{map[string]any{"pointer": "/a", "message": "bad"}}}
	gotJSON, _ := json.Marshal(got)
	wantJSON, _ := json.Marshal(want)
	if string(gotJSON) != string(wantJSON) {
		t.Fatalf("body = %s, want %s", gotJSON, wantJSON)
	}
}
