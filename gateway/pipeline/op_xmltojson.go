package pipeline

import (
	"context"
	"net/http"

	"github.com/appapi-dev/appapi/api/v1alpha1"
	"github.com/appapi-dev/appapi/gateway/expr"
)

// xmlToJSONOp converts an XML document to JSON: its output.
type xmlToJSONOp struct {
	value *expr.Program
}

func init() {
	register("xmlToJson", func(c *compiler, s *v1alpha1.Step) (operation, error) {
		value, err := c.program("xmlToJson.value", s.XMLToJSON.Value)
		return &xmlToJSONOp{value: value}, err
	})
}

func (op *xmlToJSONOp) run(ctx context.Context, x *execution) (any, *Result, error) {
	v, err := x.eval(ctx, "xmlToJson.value", op.value)
	if err != nil {
		return nil, nil, err
	}
	var doc string
	switch val := v.(type) {
	case string:
		doc = val
	case []byte:
		doc = string(val)
	default:
		return nil, nil, newError(http.StatusInternalServerError, TitleInvalidValue,
			"the value must be a string of XML, got %s", expr.TypeName(v))
	}
	out, err := xmlToJSON(doc)
	return out, nil, err
}
