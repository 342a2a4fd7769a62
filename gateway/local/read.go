package local

import (
	"crypto/sha256"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/appapi-dev/appapi/api/v1alpha1"
	"github.com/appapi-dev/appapi/internal/crdschema"
)

// maxFileBytes bounds one manifest file; anything larger is surely not one.
const maxFileBytes = 16 << 20

// located is an object and where it was read: "file:line".
type located[T any] struct {
	obj *T
	at  string
}

// manifests is what one read of the directory found, files in the order
// kubectl apply -R -f reads them (by name, directory by directory), and
// documents in file order.
type manifests struct {
	environments []located[v1alpha1.Environment]
	tokens       []located[v1alpha1.ApiToken]
	apps         []located[v1alpha1.AppAPI]
	// secrets are by namespace/name, their stringData merged into data.
	secrets map[string]*corev1.Secret

	warnings []string
	// unreadable counts the files that could not be used in full and had
	// no earlier good version. While any is, an ApiToken missing from the
	// directory may only be unreadable, so its record is kept rather than
	// revoked.
	unreadable int

	// seen maps kind/namespace/name to where the object was read, to report duplicates.
	seen map[string]string
}

func (m *manifests) warn(format string, args ...any) {
	m.warnings = append(m.warnings, fmt.Sprintf(format, args...))
}

// goodFile is the last version of a file that could be used in full.
type goodFile struct {
	sum   [sha256.Size]byte
	parse *fileParse
}

// isManifest says whether a file name is one Load reads (and a Watcher polls).
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

// readDir reads every manifest under dir except those in skip. A file that
// cannot be used in full (a syntax error, an unknown kind, an object the
// CRD schema refuses) is replaced by its last good version in good, which
// readDir keeps up to date; without one, what could be read of it is used.
func readDir(dir, skip string, schemas *crdschema.Schemas, good map[string]*goodFile) (*manifests, error) {
	m := &manifests{secrets: map[string]*corev1.Secret{}, seen: map[string]string{}}
	info, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("manifests directory: %w", err)
	}
	if !info.IsDir() {
		return nil, fmt.Errorf("manifests directory %s is not a directory", dir)
	}
	present := map[string]bool{}
	err = walkManifests(dir, skip, func(path string, info fs.FileInfo, err error) {
		rel := displayPath(dir, path)
		present[rel] = true
		var data []byte
		switch {
		case err != nil:
		case info.Size() > maxFileBytes:
			err = fmt.Errorf("larger than %d MiB", maxFileBytes>>20)
		default:
			data, err = os.ReadFile(path)
		}
		var parse *fileParse
		if err != nil {
			parse = &fileParse{problems: []string{fmt.Sprintf("%s: cannot be read: %v", rel, err)}}
		} else if g := good[rel]; g != nil && g.sum == sha256.Sum256(data) {
			parse = g.parse
		} else {
			parse = parseFile(rel, data, schemas)
			if len(parse.problems) == 0 {
				good[rel] = &goodFile{sum: sha256.Sum256(data), parse: parse}
			}
		}
		m.warnings = append(m.warnings, parse.problems...)
		if len(parse.problems) > 0 {
			if g := good[rel]; g != nil {
				m.warn("%s: not loaded; its previous version keeps serving until the file is fixed", rel)
				parse = g.parse
			} else {
				m.unreadable++
				if len(parse.objects) > 0 {
					m.warn("%s: no earlier version could be used in full; serving the objects of it that could be read", rel)
				}
			}
		}
		m.warnings = append(m.warnings, parse.notes...)
		for _, o := range parse.objects {
			m.add(o)
		}
	})
	if err != nil {
		return nil, fmt.Errorf("manifests directory: %w", err)
	}
	for rel := range good {
		if !present[rel] {
			delete(good, rel)
		}
	}
	return m, nil
}

func displayPath(dir, path string) string {
	if rel, err := filepath.Rel(dir, path); err == nil {
		return filepath.ToSlash(rel)
	}
	return path
}

// add files an object, replacing an earlier definition of the same object:
// the later one wins, as with kubectl apply -R -f on the directory. Objects
// are shared with the file cache, so each is copied.
func (m *manifests) add(o object) {
	switch obj := o.obj.(type) {
	case *v1alpha1.Environment:
		m.environments = replace(m, m.environments, o.at, "Environment", obj.DeepCopy())
	case *v1alpha1.ApiToken:
		m.tokens = replace(m, m.tokens, o.at, "ApiToken", obj.DeepCopy())
	case *v1alpha1.AppAPI:
		m.apps = replace(m, m.apps, o.at, "AppAPI", obj.DeepCopy())
	case *corev1.Secret:
		key := obj.Namespace + "/" + obj.Name
		m.noteDuplicate(o.at, "Secret", key)
		m.secrets[key] = obj.DeepCopy()
	}
}

func (m *manifests) noteDuplicate(at, kind, key string) {
	if earlier, dup := m.seen[kind+"/"+key]; dup {
		m.warn("%s: %s %s is also defined in %s; this later definition is used", at, kind, key, earlier)
	}
	m.seen[kind+"/"+key] = at
}

func replace[T any, PT interface {
	*T
	metav1.Object
}](m *manifests, list []located[T], at, kind string, obj PT) []located[T] {
	key := obj.GetNamespace() + "/" + obj.GetName()
	if _, dup := m.seen[kind+"/"+key]; dup {
		list = slices.DeleteFunc(list, func(l located[T]) bool {
			o := PT(l.obj)
			return o.GetNamespace() == obj.GetNamespace() && o.GetName() == obj.GetName()
		})
	}
	m.noteDuplicate(at, kind, key)
	return append(list, located[T]{obj: (*T)(obj), at: at})
}
