package crdschema

import (
	"context"
	"fmt"
	"slices"
	"strings"

	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	structuraldefaulting "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/defaulting"
	structurallisttype "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/listtype"
	schemaobjectmeta "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/objectmeta"
	structuralpruning "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/operation"
	"k8s.io/apimachinery/pkg/api/validate/content"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	"k8s.io/apiserver/pkg/features"
	utilfeature "k8s.io/apiserver/pkg/util/feature"
)

// Create turns obj into what the API server would store for a create
// request with it, or returns the error the API server would answer:
//
//   - a kind the CRDs do not define: *meta.NoKindMatchError;
//   - unknown fields: BadRequest, "<Kind> in version ... cannot be handled
//     as a <Kind>: strict decoding error: unknown field ...";
//   - values the schema or its rules refuse: Invalid, `<Kind>.<group>
//     "<name>" is invalid: <field>: <error>`.
//
// obj must carry its namespace, as the request's URL would. Create does not
// set what the API server adds after validating: UID, creation time,
// resource version. Errors quote values the way the API server does, so
// objects holding secrets must not be passed.
func (s *Schemas) Create(obj *unstructured.Unstructured) error {
	k, err := s.kind(obj.GroupVersionKind())
	if err != nil {
		return err
	}
	if err := k.decode(obj); err != nil {
		return err
	}
	structuraldefaulting.Default(obj.Object, k.structural)
	k.prepareForCreate(obj)
	if errs := k.validate(context.Background(), obj); len(errs) > 0 {
		return apierrors.NewInvalid(k.gvk.GroupKind(), obj.GetName(), errs)
	}
	return nil
}

// decode is what the API server's decoder does to a custom resource in a
// request with fieldValidation=Strict: it prunes what the schema does not
// know and refuses the request if that was anything (see
// schemaCoercingDecoder in k8s.io/apiextensions-apiserver's pkg/apiserver).
func (k *kindSchema) decode(obj *unstructured.Unstructured) error {
	apiVersion, kind := obj.GetAPIVersion(), obj.GetKind()
	objectMeta, hasMeta, unknown, err := schemaobjectmeta.GetObjectMetaWithOptions(obj.Object,
		schemaobjectmeta.ObjectMetaOptions{ReturnUnknownFieldPaths: true})
	if err != nil {
		return k.badRequest(err)
	}
	unknown = append(unknown, structuralpruning.PruneWithOptions(obj.Object, k.structural, true,
		structuralschema.UnknownFieldPathOptions{TrackUnknownFieldPaths: true})...)
	structuraldefaulting.PruneNonNullableNullsWithoutDefaults(obj.Object, k.structural)
	ferr, paths := schemaobjectmeta.CoerceWithOptions(nil, obj.Object, k.structural, false,
		schemaobjectmeta.CoerceOptions{ReturnUnknownFieldPaths: true})
	if ferr != nil {
		return k.badRequest(ferr)
	}
	unknown = append(unknown, paths...)
	obj.SetAPIVersion(apiVersion)
	obj.SetKind(kind)
	if hasMeta {
		if err := schemaobjectmeta.SetObjectMeta(obj.Object, objectMeta); err != nil {
			return k.badRequest(err)
		}
	}
	if len(unknown) > 0 {
		errs := make([]error, len(unknown))
		for i, p := range unknown {
			errs[i] = fmt.Errorf(`unknown field "%s"`, p)
		}
		return k.badRequest(runtime.NewStrictDecodingError(errs))
	}
	return nil
}

// badRequest is the API server's answer to a request body it cannot decode.
func (k *kindSchema) badRequest(err error) error {
	return apierrors.NewBadRequest(fmt.Sprintf("%s in version %q cannot be handled as a %s: %v", k.gvk.Kind, k.gvk.Version, k.gvk.Kind, err))
}

// prepareForCreate drops what a create request cannot set.
func (k *kindSchema) prepareForCreate(obj *unstructured.Unstructured) {
	if k.status {
		delete(obj.Object, "status")
	}
	obj.SetGeneration(1)
}

// validate runs the API server's checks of a new custom resource, in its
// order: metadata, OpenAPI schema, list types, then the CEL rules unless a
// blocking error makes them moot, and last the generic metadata rules
// (customResourceStrategy.Validate and rest.ValidateCreate).
func (k *kindSchema) validate(ctx context.Context, obj *unstructured.Unstructured) field.ErrorList {
	metadata := &metav1.ObjectMeta{}
	if raw, ok := obj.Object["metadata"].(map[string]any); ok {
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(raw, metadata); err != nil {
			return field.ErrorList{field.Invalid(field.NewPath("metadata"), raw, err.Error())}
		}
	}
	errs := apivalidation.ValidateObjectMetaDeclaratively(ctx, operation.Create, metadata, nil, k.namespaced,
		apivalidation.NameIsDNSSubdomain, field.NewPath("metadata"), utilfeature.DefaultFeatureGate.Enabled(features.DeclarativeValidationBeta))
	errs = append(errs, validation.ValidateCustomResource(nil, obj.Object, k.validator)...)
	errs = append(errs, schemaobjectmeta.Validate(ctx, nil, obj.Object, k.structural, false)...)
	errs = append(errs, structurallisttype.ValidateListSetsAndMaps(nil, k.structural, obj.Object)...)
	if k.cel != nil {
		if blocking := blockingError(errs); blocking != nil {
			errs = append(errs, blocking)
		} else {
			celErrs, _ := k.cel.Validate(ctx, nil, k.structural, obj.Object, nil, celconfig.RuntimeCELCostBudget)
			// The API server lists them in map order, which varies from
			// one request to the next; local mode repeats its warnings on
			// every reload, and should repeat the same text.
			slices.SortStableFunc(celErrs, func(a, b *field.Error) int { return strings.Compare(a.Field, b.Field) })
			errs = append(errs, celErrs...)
		}
	}
	if len(errs) == 0 {
		errs = apivalidation.ValidateObjectMetaAccessor(obj, k.namespaced, pathSegment, field.NewPath("metadata"))
	}
	return errs
}

// blockingError is the API server's note that CEL rules were not run:
// they assume the types and required fields the schema checks.
func blockingError(errs field.ErrorList) *field.Error {
	for _, err := range errs {
		switch err.Type {
		case field.ErrorTypeNotSupported, field.ErrorTypeRequired, field.ErrorTypeTooLong, field.ErrorTypeTooMany, field.ErrorTypeTypeInvalid:
			return field.Invalid(nil, nil, "some validation rules were not checked because the object was invalid; correct the existing errors to complete validation")
		}
	}
	return nil
}

// pathSegment is the API server's last check of a name: it must be usable
// as a segment of the object's URL.
func pathSegment(name string, prefix bool) []string {
	if prefix {
		return content.IsPathSegmentPrefix(name)
	}
	return content.IsPathSegmentName(name)
}
