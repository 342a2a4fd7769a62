package pipeline

import (
	"math"
	"strings"
	"testing"
)

func TestDecodeJSONDepth(t *testing.T) {
	nested := func(n int) string { return strings.Repeat(`[`, n) + strings.Repeat(`]`, n) }
	objects := func(n int) string { return strings.Repeat(`{"a":`, n) + "1" + strings.Repeat(`}`, n) }
	for _, tc := range []struct {
		name, in string
		wantAt   string // "" when accepted
	}{
		{name: "arrays at the limit", in: nested(MaxDepth)},
		{name: "objects at the limit", in: objects(MaxDepth)},
		{name: "arrays one past", in: nested(MaxDepth + 1), wantAt: "at byte 129)"},
		{name: "objects one past", in: objects(MaxDepth + 1), wantAt: "at byte 641)"},
		{name: "what encoding/json takes", in: nested(10_000), wantAt: "at byte 129)"},
		{name: "what encoding/json refuses", in: nested(100_000), wantAt: "at byte 129)"},
		{name: "unbalanced", in: strings.Repeat(`[`, 1<<20), wantAt: "at byte 129)"},
		{name: "brackets in strings do not count", in: `["` + strings.Repeat(`[{`, 200) + `"]`},
		{name: "escaped quotes do not end a string", in: `["\"` + strings.Repeat(`[`, 200) + `\\"]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, err := decodeJSON([]byte(tc.in))
			if tc.wantAt == "" {
				if err != nil {
					t.Fatalf("decodeJSON: %v", err)
				}
				if ExceedsDepth(v, MaxDepth) {
					t.Errorf("the decoded value nests deeper than %d", MaxDepth)
				}
				return
			}
			want := "nests arrays and objects more than 128 levels deep (" + tc.wantAt
			if err == nil || err.Error() != want {
				t.Errorf("error = %v, want %q", err, want)
			}
		})
	}
}

func TestDecodeJSONNumbers(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    any
		wantErr string
	}{
		{in: `41`, want: int64(41)},
		{in: `-9223372036854775808`, want: int64(math.MinInt64)},
		{in: `9223372036854775808`, want: float64(1 << 63)},
		{in: `1e308`, want: 1e308},
		{in: `1.7976931348623157e308`, want: math.MaxFloat64},
		{in: `1` + strings.Repeat("0", 308), want: 1e308},
		// Underflow rounds to zero, as any float rounds: no value is made up.
		{in: `1e-400`, want: float64(0)},
		{in: `1e400`, wantErr: "at byte 1)"},
		{in: `-1e400`, wantErr: "at byte 1)"},
		{in: `1E+400`, wantErr: "at byte 1)"},
		{in: `1` + strings.Repeat("0", 309), wantErr: "at byte 1)"},
		{in: `{"a": [1, 2, 1e999]}`, wantErr: "at byte 14)"},
	} {
		v, err := decodeJSON([]byte(tc.in))
		if tc.wantErr != "" {
			want := "has a number beyond the range of a 64-bit float, about ±1.8e308 (" + tc.wantErr
			if err == nil || err.Error() != want {
				t.Errorf("decodeJSON(%.40s) = %v, %v; want error %q", tc.in, v, err, want)
			}
			continue
		}
		if err != nil || v != tc.want {
			t.Errorf("decodeJSON(%.40s) = %#v, %v; want %#v", tc.in, v, err, tc.want)
		}
	}
}

// TestDecodeJSONSyntaxBeforeNumbers: input that is not JSON is reported as
// such even when the scan saw an overflowing number in it.
func TestDecodeJSONSyntaxBeforeNumbers(t *testing.T) {
	_, err := decodeJSON([]byte(`{"a": 1e400,}`))
	if err == nil || !strings.Contains(err.Error(), "is not valid JSON: syntax error") {
		t.Errorf("error = %v, want a syntax error", err)
	}
}

func TestExceedsDepth(t *testing.T) {
	deep := any("leaf")
	for range 5 {
		deep = []any{map[string]any{"x": deep}}
	}
	for _, tc := range []struct {
		v     any
		limit int
		want  bool
	}{
		{v: "scalar", limit: 0, want: false},
		{v: []any{}, limit: 0, want: true},
		{v: []any{}, limit: 1, want: false},
		{v: map[string]any{"a": []any{1}}, limit: 2, want: false},
		{v: map[string]any{"a": []any{1}}, limit: 1, want: true},
		{v: deep, limit: 10, want: false},
		{v: deep, limit: 9, want: true},
	} {
		if got := ExceedsDepth(tc.v, tc.limit); got != tc.want {
			t.Errorf("ExceedsDepth(%v, %d) = %v, want %v", tc.v, tc.limit, got, tc.want)
		}
	}
}
