package jsonnumber

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

func TestConvert(t *testing.T) {
	dec := json.NewDecoder(strings.NewReader(`{"n": 42, "neg": -7, "f": 1.5, "e": 1e3, "big": 18446744073709551616,
		"list": [1, 2.5, {"deep": [3]}], "s": "4", "b": true, "z": null}`))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatal(err)
	}
	got := Convert(v)
	want := map[string]any{"n": int64(42), "neg": int64(-7), "f": 1.5, "e": float64(1000), "big": 18446744073709551616.0,
		"list": []any{int64(1), 2.5, map[string]any{"deep": []any{int64(3)}}}, "s": "4", "b": true, "z": nil}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Convert = %#v, want %#v", got, want)
	}
	if got := Convert(json.Number("9")); got != int64(9) {
		t.Errorf("Convert(json.Number(\"9\")) = %#v, want int64(9)", got)
	}
}
