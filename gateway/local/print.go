package local

import (
	"bytes"
	"fmt"
	"os"

	"github.com/appapi-dev/appapi/api/v1alpha1"
)

// printTokens shows each new token once, and lists it in res.Minted. Out is
// the only place a token is ever written.
func (l *Loader) printTokens(tokens []minted, res *Result) {
	if len(tokens) == 0 {
		return
	}
	w := l.Out
	if w == nil {
		w = os.Stdout
	}
	var b bytes.Buffer
	for _, t := range tokens {
		verb := ""
		if t.Rotated {
			verb = ", rotated"
		}
		fmt.Fprintf(&b, "appapi: token %q (environment %s, id %s%s): %s\n", t.Name, t.Environment, t.ID, verb, t.text)
	}
	fmt.Fprintf(&b, "appapi: each token is shown only once, keep it now; call an AppAPI with: curl -H \"Authorization: Bearer <TOKEN>\" http://<gateway address><path>\n")
	if _, err := w.Write(b.Bytes()); err != nil {
		res.Warnings = append(res.Warnings, fmt.Sprintf("could not print %d new tokens (%v): rotate them with the %s annotation to get new ones",
			len(tokens), err, v1alpha1.RotateAnnotation))
		return
	}
	for _, t := range tokens {
		res.Minted = append(res.Minted, t.NewToken)
	}
}
