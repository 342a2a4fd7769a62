// Package crdschema does to a custom resource what the API server does when
// one is created, from the CustomResourceDefinition alone: it refuses
// unknown fields (as kubectl's default, --validate=strict, asks), applies
// the schema's defaults, and checks the OpenAPI constraints, the metadata
// and the x-kubernetes-validations (CEL) rules. It calls the API server's
// own code (k8s.io/apiextensions-apiserver), so an object is refused for
// the same reasons and with the same message as `kubectl apply` would give.
//
// The gateway's local mode uses it so that a directory of manifests means
// what it would mean in a cluster, with no hand-copied defaults or rules.
package crdschema

import (
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"

	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel"
	structuraldefaulting "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/defaulting"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	"sigs.k8s.io/yaml"
)

// Schemas are the schemas of a set of CRDs, by the kinds they define.
type Schemas struct {
	kinds map[schema.GroupVersionKind]*kindSchema
}

// kindSchema is what the API server prepares for one served version of a
// CRD (see NewStrategy in k8s.io/apiextensions-apiserver's
// pkg/registry/customresource).
type kindSchema struct {
	gvk        schema.GroupVersionKind
	namespaced bool
	// status is whether the status subresource is on: then a create
	// request cannot set status.
	status     bool
	structural *structuralschema.Structural
	validator  validation.SchemaValidator
	cel        *cel.Validator // nil when the schema has no rules
}

// Load reads every *.yaml file of fsys, each a CustomResourceDefinition
// (apiextensions.k8s.io/v1), and prepares the schema of each served version.
func Load(fsys fs.FS) (*Schemas, error) {
	s := &Schemas{kinds: map[schema.GroupVersionKind]*kindSchema{}}
	err := fs.WalkDir(fsys, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || path.Ext(name) != ".yaml" {
			return err
		}
		data, err := fs.ReadFile(fsys, name)
		if err != nil {
			return err
		}
		crd := &apiextensionsv1.CustomResourceDefinition{}
		if err := yaml.UnmarshalStrict(data, crd); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if err := s.add(crd); err != nil {
			return fmt.Errorf("%s: CustomResourceDefinition %s: %w", name, crd.Name, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(s.kinds) == 0 {
		return nil, fmt.Errorf("no CustomResourceDefinition found")
	}
	return s, nil
}

func (s *Schemas) add(crd *apiextensionsv1.CustomResourceDefinition) error {
	for _, v := range crd.Spec.Versions {
		if !v.Served || v.Schema == nil {
			continue
		}
		internal := &apiextensions.CustomResourceValidation{}
		if err := apiextensionsv1.Convert_v1_CustomResourceValidation_To_apiextensions_CustomResourceValidation(v.Schema, internal, nil); err != nil {
			return err
		}
		structural, err := structuralschema.NewStructural(internal.OpenAPIV3Schema)
		if err != nil {
			return fmt.Errorf("version %s: the schema is not structural: %w", v.Name, err)
		}
		// As the API server does: defaults hold only what the schema keeps.
		structural = structural.DeepCopy()
		if err := structuraldefaulting.PruneDefaults(structural); err != nil {
			return fmt.Errorf("version %s: %w", v.Name, err)
		}
		validator, _, err := validation.NewSchemaValidator(internal.OpenAPIV3Schema)
		if err != nil {
			return fmt.Errorf("version %s: %w", v.Name, err)
		}
		gvk := schema.GroupVersionKind{Group: crd.Spec.Group, Version: v.Name, Kind: crd.Spec.Names.Kind}
		k := &kindSchema{
			gvk:        gvk,
			namespaced: crd.Spec.Scope == apiextensionsv1.NamespaceScoped,
			status:     v.Subresources != nil && v.Subresources.Status != nil,
			structural: structural,
			validator:  validator,
			cel:        cel.NewValidator(structural, true, celconfig.PerCallLimit),
		}
		s.kinds[gvk] = k
	}
	return nil
}

// Kinds are the kinds the CRDs define, sorted.
func (s *Schemas) Kinds() []schema.GroupVersionKind {
	var out []schema.GroupVersionKind
	for gvk := range s.kinds {
		out = append(out, gvk)
	}
	slices.SortFunc(out, func(a, b schema.GroupVersionKind) int { return strings.Compare(a.String(), b.String()) })
	return out
}

// Group says whether any of the CRDs defines a kind in group.
func (s *Schemas) Group(group string) bool {
	for gvk := range s.kinds {
		if gvk.Group == group {
			return true
		}
	}
	return false
}

func (s *Schemas) kind(gvk schema.GroupVersionKind) (*kindSchema, error) {
	k, ok := s.kinds[gvk]
	if !ok {
		var versions []string
		for other := range s.kinds {
			if other.GroupKind() == gvk.GroupKind() {
				versions = append(versions, other.Version)
			}
		}
		if len(versions) == 0 {
			versions = []string{gvk.Version}
		}
		return nil, &meta.NoKindMatchError{GroupKind: gvk.GroupKind(), SearchedVersions: versions}
	}
	return k, nil
}
