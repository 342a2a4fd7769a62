package local

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	utiljson "k8s.io/apimachinery/pkg/util/json"

	"github.com/appapi-dev/appapi/api/v1alpha1"
	"github.com/appapi-dev/appapi/internal/crdschema"
)

// object is one object of a file, as the API server would store it.
type object struct {
	// at is where it was read: "file:line", plus " items[i]" in a List.
	at string
	// obj is an *v1alpha1.Environment, ApiToken or AppAPI, or a
	// *corev1.Secret.
	obj metav1.Object
}

// fileParse is what one version of a file holds.
type fileParse struct {
	objects []object
	// problems make the version unusable: what the API server or kubectl
	// would refuse. Each starts with "file:line: ".
	problems []string
	// notes are warnings that do not: kinds local mode ignores.
	notes []string
}

// parseFile reads every document of a file.
func parseFile(rel string, data []byte, schemas *crdschema.Schemas) *fileParse {
	p := &fileParse{}
	for _, doc := range splitDocuments(data) {
		if doc.err != nil {
			p.problems = append(p.problems, fmt.Sprintf("%s:%d: not valid YAML or JSON: %s", rel, doc.err.line, doc.err.msg))
			continue
		}
		if doc.json != nil {
			p.readDocument(fmt.Sprintf("%s:%d", rel, doc.line), doc.json, schemas)
		}
	}
	return p
}

func (p *fileParse) problem(at, format string, args ...any) {
	p.problems = append(p.problems, at+": "+fmt.Sprintf(format, args...))
}

func (p *fileParse) readDocument(at string, raw []byte, schemas *crdschema.Schemas) {
	u := &unstructured.Unstructured{}
	if err := utiljson.Unmarshal(raw, &u.Object); err != nil || u.Object == nil {
		p.problem(at, "not a Kubernetes object (a mapping with apiVersion, kind and metadata)")
		return
	}
	gvk := u.GroupVersionKind()
	switch {
	case u.GetAPIVersion() == "" || gvk.Kind == "":
		p.problem(at, "has no apiVersion or no kind")
	case gvk == (schema.GroupVersionKind{Version: "v1", Kind: "List"}):
		// As written by kubectl get -o yaml.
		items, _, _ := unstructured.NestedSlice(u.Object, "items")
		for i, item := range items {
			data, _ := json.Marshal(item)
			p.readDocument(fmt.Sprintf("%s items[%d]", at, i), data, schemas)
		}
	case gvk == corev1.SchemeGroupVersion.WithKind("Secret"):
		p.readSecret(at, raw)
	case schemas.Group(gvk.Group):
		p.readCustomResource(at, u, schemas)
	default:
		what := gvk.Kind + " (" + u.GetAPIVersion() + ")"
		if name := u.GetName(); name != "" {
			what += fmt.Sprintf(" %q", name)
		}
		p.notes = append(p.notes, fmt.Sprintf("%s: %s ignored: local mode reads only Environment, ApiToken and AppAPI (%s) and Secret (v1)",
			at, what, v1alpha1.GroupVersion))
	}
}

// readCustomResource admits an object as the API server would create it,
// or reports its answer.
func (p *fileParse) readCustomResource(at string, u *unstructured.Unstructured, schemas *crdschema.Schemas) {
	if u.GetNamespace() == "" {
		u.SetNamespace(metav1.NamespaceDefault)
	}
	if err := schemas.Create(u); err != nil {
		var noKind *meta.NoKindMatchError
		if errors.As(err, &noKind) {
			var kinds []string
			for _, k := range schemas.Kinds() {
				kinds = append(kinds, k.Kind+" ("+k.GroupVersion().String()+")")
			}
			p.problem(at, "%v: the kinds of %s are %s", err, noKind.GroupKind.Group, strings.Join(kinds, ", "))
			return
		}
		p.problem(at, "%v", err)
		return
	}
	var obj metav1.Object
	switch u.GetKind() {
	case "Environment":
		obj = &v1alpha1.Environment{}
	case "ApiToken":
		obj = &v1alpha1.ApiToken{}
	case "AppAPI":
		obj = &v1alpha1.AppAPI{}
	default:
		p.problem(at, "%s (%s) ignored: this gateway does not know the kind", u.GetKind(), u.GetAPIVersion())
		return
	}
	// Through JSON, as a client reads it from the API server.
	data, err := json.Marshal(u.Object)
	if err == nil {
		err = json.Unmarshal(data, obj)
	}
	if err != nil {
		p.problem(at, "%s %q: %v", u.GetKind(), u.GetName(), err)
		return
	}
	p.add(at, obj)
}

// readSecret keeps a Secret. Its problems never quote the document, which
// holds secret values.
func (p *fileParse) readSecret(at string, raw []byte) {
	s := &corev1.Secret{}
	if err := json.Unmarshal(raw, s); err != nil {
		p.problem(at, "Secret does not parse: data values must be base64 (use stringData for plain text)")
		return
	}
	if s.Name == "" {
		p.problem(at, "Secret has no metadata.name")
		return
	}
	if s.Namespace == "" {
		s.Namespace = metav1.NamespaceDefault
	}
	// The API server merges stringData into data, stringData winning.
	if len(s.StringData) > 0 && s.Data == nil {
		s.Data = map[string][]byte{}
	}
	for k, v := range s.StringData {
		s.Data[k] = []byte(v)
	}
	s.StringData = nil
	p.add(at, s)
}

// add gives an object what the API server would on create. The UID is
// derived from the name, so that an AppAPI keeps its route across
// reloads and restarts. The creation time is the manifest's, if it has one
// (an object exported from a cluster): path conflicts go to the AppAPI
// created first, then to the one that comes first in the directory.
func (p *fileParse) add(at string, obj metav1.Object) {
	obj.SetUID(types.UID("local-" + obj.GetName()))
	obj.SetGeneration(1)
	obj.SetDeletionTimestamp(nil)
	p.objects = append(p.objects, object{at: at, obj: obj})
}
