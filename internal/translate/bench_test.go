package translate

import (
	"fmt"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/appapi-dev/appapi/api/v1alpha1"
	"github.com/appapi-dev/appapi/gateway/expr"
)

// BenchmarkTranslate measures what one edit costs the controller in an
// Environment of n AppAPIs: the other n-1 are judged from the compile cache.
// The baseline is a cold translation, every AppAPI compiled, as after a
// manager restart.
func BenchmarkTranslate(b *testing.B) {
	env, err := expr.NewCompiler()
	if err != nil {
		b.Fatal(err)
	}
	for _, n := range []int{100, 10000} {
		in := benchInput(n)
		b.Run(fmt.Sprintf("appapis=%d/one-edit", n), func(b *testing.B) {
			tr := New(env)
			if _, err := tr.Translate(in); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				i++
				in.AppAPIs[0].Spec.Steps[0].Transform.Value = fmt.Sprintf("{'id': request.params.id, 'edit': %d}", i)
				in.AppAPIs[0].Generation++
				if _, err := tr.Translate(in); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("appapis=%d/cold-baseline", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := New(env).Translate(in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func benchInput(n int) Input {
	in := Input{
		Environment: &v1alpha1.Environment{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "prod"}},
		TokenNames:  []string{"partner"},
	}
	for i := range n {
		in.AppAPIs = append(in.AppAPIs, v1alpha1.AppAPI{
			ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: fmt.Sprintf("orders-%05d", i), UID: types.UID(fmt.Sprint(i)), Generation: 1},
			Spec: v1alpha1.AppAPISpec{Environment: "prod", Method: "GET", Path: fmt.Sprintf("/t%05d/orders/{id}", i),
				Authentication: v1alpha1.Authentication{Mode: v1alpha1.AuthenticationToken, AllowedTokens: []string{"partner"}},
				Steps: []v1alpha1.Step{
					{Name: "shape", Transform: &v1alpha1.TransformOperation{Value: "{'id': request.params.id}"}},
					{Name: "order", HTTP: &v1alpha1.HTTPOperation{URL: "http://orders.shop.svc/orders/{{ steps.shape.id }}"}},
				},
				Response: v1alpha1.Response{Body: "{'order': steps.order.body, 'tenant': " + fmt.Sprint(i) + "}"}},
		})
	}
	return in
}
