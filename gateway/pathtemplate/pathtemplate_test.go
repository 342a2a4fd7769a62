package pathtemplate

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		path    string
		key     string
		params  []string
		wantErr string
	}{
		{path: "/", key: "/"},
		{path: "/orders", key: "/orders"},
		{path: "/orders/", key: "/orders/"},
		{path: "/orders/{orderId}", key: "/orders/{}", params: []string{"orderId"}},
		{path: "/orders/{id}/items/{item_2}", key: "/orders/{}/items/{}", params: []string{"id", "item_2"}},
		{path: "/v1.2/pets~x", key: "/v1.2/pets~x"},
		{path: "orders", wantErr: "must start with /"},
		{path: "/orders//items", wantErr: "empty segment at position 2"},
		{path: "/orders/{}", wantErr: "must be {name}"},
		{path: "/orders/{1d}", wantErr: "must be {name}"},
		{path: "/orders/{id", wantErr: "must be {name}"},
		{path: "/orders/x{id}", wantErr: "must be {name}"},
		{path: "/a/{id}/b/{id}", wantErr: "appears twice"},
		{path: "/a/../admin", wantErr: `segment ".." is not allowed`},
		{path: "/a%2Fb", wantErr: "not allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			got, err := Parse(tt.path)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Parse(%q) error = %v, want it to contain %q", tt.path, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.path, err)
			}
			if got.Key() != tt.key {
				t.Errorf("Key() = %q, want %q", got.Key(), tt.key)
			}
			if strings.Join(got.Params(), ",") != strings.Join(tt.params, ",") {
				t.Errorf("Params() = %v, want %v", got.Params(), tt.params)
			}
		})
	}
}
