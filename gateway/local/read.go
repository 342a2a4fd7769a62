package local

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/appapi-dev/appapi/api/v1alpha1"
)

// maxFileBytes bounds one manifest file; anything larger is surely not one.
const maxFileBytes = 16 << 20

// located is an object and where it was read: "file:doc", the document
// counted from 1 within the file.
type located[T any] struct {
	obj *T
	at  string
}

// manifests is what one read of the directory found.
type manifests struct {
	environments []located[v1alpha1.Environment]
	tokens       []located[v1alpha1.ApiToken]
	apps         []located[v1alpha1.AppAPI]
	// secrets are the Secrets' data (stringData merged in) by namespace/name.
	secrets map[string]map[string][]byte

	warnings []string
	// unreadable counts the files and documents that could not be read. While
	// any is, an ApiToken missing from the directory may only be unreadable,
	// so its record is kept rather than revoked.
	unreadable int

	// seen maps kind/namespace/name to where the object was read, to report duplicates.
	seen map[string]string
}

func (m *manifests) warn(format string, args ...any) {
	m.warnings = append(m.warnings, fmt.Sprintf(format, args...))
}

// isManifest says whether a file name is one Load reads (and Watch polls).
func isManifest(name string) bool {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".yaml", ".yml", ".json":
		return true
	}
	return false
}

// skipDir says whether a directory below the root is left out: hidden ones
// such as .git or the default state directory .appapi.
func skipDir(name string) bool { return strings.HasPrefix(name, ".") }

// walkManifests calls fn for every manifest file under dir, in lexical
// order, following symbolic links to files (as in a mounted ConfigMap) but
// not to directories. skip, when set, is a directory left out (the state
// directory). An error reading the root is returned; other errors are
// passed to fn with a nil info.
func walkManifests(dir, skip string, fn func(path string, info fs.FileInfo, err error)) error {
	skipAbs := ""
	if skip != "" {
		skipAbs, _ = filepath.Abs(skip)
	}
	return filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if path == dir {
				return err
			}
			fn(path, nil, err)
			if d != nil && d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			if path == dir {
				return nil
			}
			if skipDir(d.Name()) {
				return fs.SkipDir
			}
			if abs, _ := filepath.Abs(path); skipAbs != "" && abs == skipAbs {
				return fs.SkipDir
			}
			return nil
		}
		if !isManifest(d.Name()) {
			return nil
		}
		info, err := os.Stat(path) // follows a symbolic link
		if err != nil {
			fn(path, nil, err)
			return nil
		}
		if !info.Mode().IsRegular() {
			return nil
		}
		fn(path, info, nil)
		return nil
	})
}

// readDir reads every manifest under dir except those in skip.
func readDir(dir, skip string) (*manifests, error) {
	m := &manifests{secrets: map[string]map[string][]byte{}, seen: map[string]string{}}
	info, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("manifests directory: %w", err)
	}
	if !info.IsDir() {
		return nil, fmt.Errorf("manifests directory %s is not a directory", dir)
	}
	err = walkManifests(dir, skip, func(path string, info fs.FileInfo, err error) {
		rel := displayPath(dir, path)
		if err != nil {
			m.unreadable++
			m.warn("%s: cannot be read, skipped: %v", rel, err)
			return
		}
		if info.Size() > maxFileBytes {
			m.unreadable++
			m.warn("%s: larger than %d MiB, skipped", rel, maxFileBytes>>20)
			return
		}
		data, err := os.ReadFile(path)
		if err != nil {
			m.unreadable++
			m.warn("%s: cannot be read, skipped: %v", rel, err)
			return
		}
		m.readFile(rel, data)
	})
	if err != nil {
		return nil, fmt.Errorf("manifests directory: %w", err)
	}
	return m, nil
}

func displayPath(dir, path string) string {
	if rel, err := filepath.Rel(dir, path); err == nil {
		return filepath.ToSlash(rel)
	}
	return path
}

// readFile decodes each YAML document (separated by ---) or JSON value of
// one file. A document that does not parse is skipped with a warning and
// the next one is still read, which YAML allows; in a JSON stream nothing
// after a syntax error can be found, so the rest of the file is skipped.
func (m *manifests) readFile(rel string, data []byte) {
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	for doc := 1; ; doc++ {
		var raw json.RawMessage
		err := dec.Decode(&raw)
		if errors.Is(err, io.EOF) {
			return
		}
		at := fmt.Sprintf("%s:%d", rel, doc)
		if err != nil {
			m.unreadable++
			var syntax utilyaml.YAMLSyntaxError
			if errors.As(err, &syntax) {
				m.warn("%s: not valid YAML, document skipped: %v", at, err)
				continue
			}
			m.warn("%s: not valid YAML or JSON, the rest of the file is skipped: %v", at, err)
			return
		}
		m.readDocument(at, raw)
	}
}

// header is what every Kubernetes object has; items is for a v1 List.
type header struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name string `json:"name"`
	} `json:"metadata"`
	Items []json.RawMessage `json:"items"`
}

func (m *manifests) readDocument(at string, raw json.RawMessage) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return // an empty document, or only comments
	}
	var h header
	if raw[0] != '{' || json.Unmarshal(raw, &h) != nil {
		m.unreadable++
		m.warn("%s: not a Kubernetes object (a mapping with apiVersion, kind and metadata), skipped", at)
		return
	}
	switch {
	case h.Kind == "":
		m.warn("%s: has no kind, skipped", at)
	case h.APIVersion == "v1" && h.Kind == "List":
		// As written by kubectl get -o yaml.
		for i, item := range h.Items {
			m.readDocument(fmt.Sprintf("%s[%d]", at, i), item)
		}
	case h.APIVersion == v1alpha1.GroupVersion.String() && h.Kind == "Environment":
		if obj, ok := decodeObject[v1alpha1.Environment](m, at, h.Kind, raw); ok {
			m.environments = add(m, m.environments, at, h.Kind, obj)
		}
	case h.APIVersion == v1alpha1.GroupVersion.String() && h.Kind == "ApiToken":
		if obj, ok := decodeObject[v1alpha1.ApiToken](m, at, h.Kind, raw); ok {
			m.tokens = add(m, m.tokens, at, h.Kind, obj)
		}
	case h.APIVersion == v1alpha1.GroupVersion.String() && h.Kind == "AppAPI":
		if obj, ok := decodeObject[v1alpha1.AppAPI](m, at, h.Kind, raw); ok {
			m.apps = add(m, m.apps, at, h.Kind, obj)
		}
	case h.APIVersion == "v1" && h.Kind == "Secret":
		m.readSecret(at, h.Metadata.Name, raw)
	default:
		what := h.Kind + " (" + h.APIVersion + ")"
		if h.Metadata.Name != "" {
			what += fmt.Sprintf(" %q", h.Metadata.Name)
		}
		m.warn("%s: %s ignored: local mode reads only Environment, ApiToken and AppAPI (%s) and Secret (v1)",
			at, what, v1alpha1.GroupVersion)
	}
}

// readSecret keeps a Secret's data. Its errors never quote the document,
// which holds secret values.
func (m *manifests) readSecret(at, name string, raw json.RawMessage) {
	var s corev1.Secret
	if err := json.Unmarshal(raw, &s); err != nil {
		m.unreadable++
		m.warn("%s: Secret %q does not parse, skipped: data values must be base64 (use stringData for plain text)", at, name)
		return
	}
	if s.Name == "" {
		m.unreadable++
		m.warn("%s: Secret has no metadata.name, skipped", at)
		return
	}
	localMeta(&s)
	data := map[string][]byte{}
	for k, v := range s.Data {
		data[k] = v
	}
	// The API server merges stringData into data, stringData winning.
	for k, v := range s.StringData {
		data[k] = []byte(v)
	}
	key := "Secret/" + s.Namespace + "/" + s.Name
	if earlier, dup := m.seen[key]; dup {
		m.warn("%s: Secret %s/%s is also defined in %s; this later definition is used", at, s.Namespace, s.Name, earlier)
	}
	m.seen[key] = at
	m.secrets[s.Namespace+"/"+s.Name] = data
}

// decodeObject decodes one of the appapi.dev kinds. An unknown field is a
// warning, as kubectl warns when the API server drops one, and the object is
// read without it.
func decodeObject[T any, PT interface {
	*T
	metav1.Object
}](m *manifests, at, kind string, raw json.RawMessage) (PT, bool) {
	obj := PT(new(T))
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(obj); err != nil {
		obj = PT(new(T))
		if lerr := json.Unmarshal(raw, obj); lerr != nil {
			m.unreadable++
			m.warn("%s: %s does not parse, skipped: %v", at, kind, lerr)
			return nil, false
		}
		m.warn("%s: %s %q: %v; the field is ignored", at, kind, obj.GetName(), strings.TrimPrefix(err.Error(), "json: "))
	}
	if obj.GetName() == "" {
		m.unreadable++
		m.warn("%s: %s has no metadata.name, skipped", at, kind)
		return nil, false
	}
	localMeta(obj)
	return obj, true
}

// localMeta gives an object what the API server would: a namespace, a UID
// and a generation. The UID is derived from the name, so that an AppAPI
// keeps its route across reloads and restarts. Every object is created at
// the zero time: the translator gives a contested method and path to the
// oldest AppAPI, then to the smallest name, so here the smallest name wins.
func localMeta(o metav1.Object) {
	if o.GetNamespace() == "" {
		o.SetNamespace("default")
	}
	o.SetUID(types.UID("local-" + o.GetName()))
	o.SetGeneration(1)
	o.SetCreationTimestamp(metav1.Time{})
	o.SetDeletionTimestamp(nil)
}

// add appends an object to list, replacing an earlier definition of the
// same object: the later one wins, as with kubectl apply -f on the
// directory, which applies files in lexical order.
func add[T any, PT interface {
	*T
	metav1.Object
}](m *manifests, list []located[T], at, kind string, obj PT) []located[T] {
	key := kind + "/" + obj.GetNamespace() + "/" + obj.GetName()
	if earlier, dup := m.seen[key]; dup {
		m.warn("%s: %s %s/%s is also defined in %s; this later definition is used", at, kind, obj.GetNamespace(), obj.GetName(), earlier)
		list = slices.DeleteFunc(list, func(l located[T]) bool {
			o := PT(l.obj)
			return o.GetNamespace() == obj.GetNamespace() && o.GetName() == obj.GetName()
		})
	}
	m.seen[key] = at
	return append(list, located[T]{obj: (*T)(obj), at: at})
}
