// Package expr compiles and evaluates the CEL expressions and text templates
// used by gateway pipelines.
//
// One [Compiler] is built per configuration snapshot and shared by every pipeline
// in it. [Compiler.Compile] and [Compiler.CompileBool] turn an expression into a
// [Program]; [Compiler.CompileTemplate] turns text with {{ expression }} parts
// into a [Template]. Compile errors carry line:column positions. Both report
// which earlier steps they read ([Program.StepRefs]), so the caller can check
// the order of steps before any request arrives.
//
// # Variables
//
// Every expression can read:
//
//	request  map(string, dyn)    the incoming request:
//	                               method   string, e.g. "GET"
//	                               path     string
//	                               params   map(string, string), path parameters
//	                               query    map(string, dyn), query parameters
//	                               headers  map(string, string), lower-case names
//	                               body     dyn, the decoded body
//	                               text     string, the raw body
//	token    map(string, dyn)    the authenticated token: name, id; empty when
//	                             the request is unauthenticated
//	vars     map(string, string) the environment's variables
//	secrets  map(string, string) the environment's secret values
//	steps    map(string, dyn)    outputs of earlier steps, by step name
//	now      timestamp           the time the request was received
//
// # Language
//
// Besides standard CEL, expressions can use the cel-go extension libraries
// for strings ('a,b'.split(','), 'x'.upperAscii(), '%s-%d'.format([a, 1])),
// encoders (base64.encode(b'hi'), base64.decode('aGk=')), math
// (math.greatest(1, 2), math.round(2.5)), lists (lists.range(3),
// [3, 1].sort(), [[1], [2]].flatten()), sets (sets.contains([1, 2], [1]))
// and bindings (cel.bind(x, request.body.items, x.size() > 0 ? x[0] : null)),
// and optional values (request.query.?page.orValue('1')).
//
// Numbers compare across types (request.body.count > 5 works when count was
// decoded from JSON as a double), but arithmetic does not: add 1.0, not 1,
// to a double.
//
// # Functions
//
// In addition, these functions are available:
//
//	uuid() -> string
//	    A new random (version 4) UUID, e.g. "0b9c4f0e-...".
//	sha256(string) -> string
//	sha256(bytes) -> string
//	    The SHA-256 digest of the UTF-8 text or the bytes, as lower-case hex.
//	hmacSha256(key string, message string) -> string
//	    The HMAC-SHA256 of message under key, as lower-case hex.
//	urlEncode(string) -> string
//	    Escapes a URL query value: "a b&c" becomes "a+b%26c".
//	urlDecode(string) -> string
//	    Reverses urlEncode; fails on malformed percent-escapes.
//	toJson(dyn) -> string
//	    Encodes any value as compact JSON with object keys sorted. Bytes become
//	    base64 text, timestamps RFC 3339 text, durations text such as "1.5s".
//	fromJson(string) -> dyn
//	    Decodes JSON text. Numbers become doubles, as everywhere in CEL's JSON
//	    handling.
//
// # Evaluation
//
// [Program.Eval] returns plain Go values (nil, bool, int64, uint64, float64,
// string, []byte, time.Time, []any, map[string]any) ready for encoding/json.
// [Program.EvalBool] does the same for conditions and rejects non-bool
// results. Each evaluation may use at most [CostLimit] units of work and stops early
// when its context is cancelled (checked every [InterruptCheckFrequency]
// comprehension iterations).
//
// # Cost
//
// cel-go charges a function call's cost after the call returned, so one call
// on large inputs could spin or allocate far beyond the limit before it was
// noticed. The functions whose work grows with their inputs are guarded:
// sets.contains, sets.intersects and sets.equivalent; the string functions
// charAt, indexOf, lastIndexOf, lowerAscii, upperAscii, trim, reverse,
// substring, replace, split, join, format and strings.quote; the list
// functions slice, lists.range, reverse, flatten, distinct, sort and sortBy,
// and math.greatest and math.least of a list; base64.encode, base64.decode,
// json.encode and matches; and this package's sha256, hmacSha256, urlEncode,
// urlDecode, fromJson and toJson. Each call is priced from its arguments
// before it runs (cel-go's own price where it has one, with the result's
// size counted from the inputs rather than built), refused with
// [ErrCostLimitExceeded] when that price alone exceeds [CostLimit], and
// charged the same price after it ran, also when its arguments are dyn and
// cel-go would have charged 1. An evaluation therefore does at most twice
// the limit's work. List concatenation and `in` are charged by size for the
// same reason: otherwise a few concatenations of a list with itself make a
// list that no later operation finishes.
//
// Errors from evaluation never contain input values, because any value might
// be a secret: they name the failing operation and its position and give a
// reason from a fixed list, e.g.
//
//	evaluation error at 1:1 in timestamp(): invalid RFC 3339 timestamp
//
// # Templates
//
// A template is literal text with {{ expression }} parts, e.g.
//
//	https://api.example.com/users/{{ request.params.id }}?v={{ vars.version }}
//
// Each part's value is inserted as text: strings as they are, numbers in
// their shortest form, null as nothing, timestamps in RFC 3339, lists and
// maps as compact JSON. A "}}" inside a string literal or closing a map
// literal does not end a part. There is no escape for a literal "{{"; write
// {{ '{{' }}. For URLs, [EscapeURLValue] escapes each inserted value so that
// it cannot add path segments, query parameters or a fragment.
package expr
