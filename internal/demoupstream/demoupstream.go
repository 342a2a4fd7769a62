// Package demoupstream is the small service the examples call: a pet store
// (in the spirit of the product's Petfinder tutorial) and a form inbox. The
// demo, the examples' READMEs and the end-to-end tests run it on loopback,
// so every example works without the internet.
package demoupstream

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"
)

// DefaultAddress is where the examples expect it (Environment demo's
// variable petstoreURL).
const DefaultAddress = "127.0.0.1:9090"

var pets = map[string]map[string]any{
	"1": {"id": 1, "name": "Biscuit", "type": "Dog", "breeds": map[string]any{"primary": "Beagle", "mixed": false},
		"age": "Young", "status": "adoptable", "contact": map[string]any{"email": "shelter@example.org"},
		"_links": map[string]any{"self": map[string]any{"href": "/v2/animals/1"}}},
	"2": {"id": 2, "name": "Miso", "type": "Cat", "breeds": map[string]any{"primary": "Siamese", "mixed": true},
		"age": "Adult", "status": "adopted", "contact": map[string]any{"email": "shelter@example.org"},
		"_links": map[string]any{"self": map[string]any{"href": "/v2/animals/2"}}},
}

// Handler serves:
//
//	GET  /v2/animals/{id}  a pet, or 404
//	GET  /v2/animals       all pets, filtered by ?type=
//	POST /submissions      stores a JSON form submission and answers 201 with its id
//	GET  /submissions      the stored submissions
func Handler() http.Handler {
	var mu sync.Mutex
	var submissions []map[string]any
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v2/animals/{id}", func(w http.ResponseWriter, r *http.Request) {
		pet, ok := pets[r.PathValue("id")]
		if !ok {
			writeJSON(w, http.StatusNotFound, map[string]any{"title": "not found"})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"animal": pet})
	})
	mux.HandleFunc("GET /v2/animals", func(w http.ResponseWriter, r *http.Request) {
		var out []any
		for _, id := range []string{"1", "2"} {
			if t := r.URL.Query().Get("type"); t == "" || strings.EqualFold(t, pets[id]["type"].(string)) {
				out = append(out, pets[id])
			}
		}
		writeJSON(w, http.StatusOK, map[string]any{"animals": out})
	})
	mux.HandleFunc("POST /submissions", func(w http.ResponseWriter, r *http.Request) {
		var body map[string]any
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&body); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]any{"title": "not JSON"})
			return
		}
		mu.Lock()
		body["id"] = fmt.Sprintf("sub-%d", len(submissions)+1)
		body["receivedAt"] = time.Now().UTC().Format(time.RFC3339)
		submissions = append(submissions, body)
		mu.Unlock()
		writeJSON(w, http.StatusCreated, body)
	})
	mux.HandleFunc("GET /submissions", func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		writeJSON(w, http.StatusOK, map[string]any{"submissions": submissions})
	})
	return mux
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
