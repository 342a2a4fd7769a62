package server

import (
	"mime"
	"strings"
)

// The cost model of a request body: an estimate, from one pass over its
// bytes, of the most memory serving it takes. It is charged against the
// --memory-limit budget before the pipeline runs. The weights are measured
// (TestBodyCostCoversMeasuredPeak, docs/security.md): each is at least the
// peak heap per unit of the worst body of its kind, so the estimate is an
// upper bound rather than an average.
const (
	// costPerByte covers the buffered body, request.text (a copy), the
	// decoded string values, their expression forms and an echoed answer.
	costPerByte = 8
	// costPerJSONValue covers a decoded JSON value (an element of an array
	// or a member of an object, counted by the ',', '[' or '{' before it):
	// its interface word, its slot in a list grown by doubling, and its
	// expression form.
	costPerJSONValue = 64
	// costPerJSONKey covers a member's key and its map entry, counted by ':'.
	costPerJSONKey = 160
	// costPerXMLElement covers an element xmlToJson may build, counted by
	// '<', and costPerXMLAttribute an attribute, counted by '=' inside a
	// tag: an element with attributes becomes a map of its own.
	costPerXMLElement   = 64
	costPerXMLAttribute = 448
)

// bodyCost estimates what serving a body costs in memory. JSON bodies are
// decoded by their Content-Type; any body may reach xmlToJson through
// request.text, so XML markup is charged whatever the type. Characters in
// JSON strings are counted as if they were structure: that only
// overestimates.
func bodyCost(contentType string, body []byte) int64 {
	mediaType, _, _ := mime.ParseMediaType(contentType)
	json := mediaType == "application/json" || strings.HasSuffix(mediaType, "+json")
	cost := int64(len(body)) * costPerByte
	inTag := false
	for _, c := range body {
		switch c {
		case '<':
			inTag = true
			cost += costPerXMLElement
		case '>':
			inTag = false
		case '=':
			if inTag {
				cost += costPerXMLAttribute
			}
		case ',', '[', '{':
			if json {
				cost += costPerJSONValue
			}
		case ':':
			if json {
				cost += costPerJSONKey
			}
		}
	}
	return cost
}
