package expr

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/url"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/uuid"
)

// safeError is an error whose message was written here and is known to hold
// no part of any argument, so the sanitiser may show it verbatim.
type safeError string

func (e safeError) Error() string { return string(e) }

func failWith(msg string) ref.Val { return types.WrapErr(safeError(msg)) }

func customFunctions() []cel.EnvOption {
	return []cel.EnvOption{
		cel.Function("uuid",
			cel.FunctionDocs("uuid() returns a new random (version 4) UUID in its canonical text form."),
			cel.Overload("uuid", []*cel.Type{}, cel.StringType,
				cel.FunctionBinding(func(...ref.Val) ref.Val {
					return types.String(uuid.NewString())
				}))),

		cel.Function("sha256",
			cel.FunctionDocs("sha256(s) returns the SHA-256 digest of a string's UTF-8 bytes, or of bytes, as lower-case hex."),
			cel.Overload("sha256_string", []*cel.Type{cel.StringType}, cel.StringType,
				cel.UnaryBinding(func(v ref.Val) ref.Val {
					s, ok := v.(types.String)
					if !ok {
						return types.NoSuchOverloadErr()
					}
					sum := sha256.Sum256([]byte(s))
					return types.String(hex.EncodeToString(sum[:]))
				})),
			cel.Overload("sha256_bytes", []*cel.Type{cel.BytesType}, cel.StringType,
				cel.UnaryBinding(func(v ref.Val) ref.Val {
					b, ok := v.(types.Bytes)
					if !ok {
						return types.NoSuchOverloadErr()
					}
					sum := sha256.Sum256([]byte(b))
					return types.String(hex.EncodeToString(sum[:]))
				}))),

		cel.Function("hmacSha256",
			cel.FunctionDocs("hmacSha256(key, message) returns the HMAC-SHA256 of message under key, as lower-case hex."),
			cel.Overload("hmacSha256_string_string", []*cel.Type{cel.StringType, cel.StringType}, cel.StringType,
				cel.BinaryBinding(func(k, m ref.Val) ref.Val {
					key, ok1 := k.(types.String)
					msg, ok2 := m.(types.String)
					if !ok1 || !ok2 {
						return types.NoSuchOverloadErr()
					}
					mac := hmac.New(sha256.New, []byte(key))
					mac.Write([]byte(msg))
					return types.String(hex.EncodeToString(mac.Sum(nil)))
				}))),

		cel.Function("urlEncode",
			cel.FunctionDocs("urlEncode(s) escapes s for use as a URL query value (space becomes '+')."),
			cel.Overload("urlEncode_string", []*cel.Type{cel.StringType}, cel.StringType,
				cel.UnaryBinding(func(v ref.Val) ref.Val {
					s, ok := v.(types.String)
					if !ok {
						return types.NoSuchOverloadErr()
					}
					return types.String(url.QueryEscape(string(s)))
				}))),

		cel.Function("urlDecode",
			cel.FunctionDocs("urlDecode(s) reverses urlEncode; '+' becomes a space."),
			cel.Overload("urlDecode_string", []*cel.Type{cel.StringType}, cel.StringType,
				cel.UnaryBinding(func(v ref.Val) ref.Val {
					s, ok := v.(types.String)
					if !ok {
						return types.NoSuchOverloadErr()
					}
					out, err := url.QueryUnescape(string(s))
					if err != nil {
						// url.EscapeError quotes the offending input.
						return failWith("invalid percent-encoding")
					}
					return types.String(out)
				}))),

		cel.Function("toJson",
			cel.FunctionDocs("toJson(v) encodes any value as compact JSON text."),
			cel.Overload("toJson_dyn", []*cel.Type{cel.DynType}, cel.StringType,
				cel.UnaryBinding(func(v ref.Val) ref.Val {
					s, err := marshalJSON(v)
					if err != nil {
						return types.WrapErr(err)
					}
					return types.String(s)
				}))),

		cel.Function("fromJson",
			cel.FunctionDocs("fromJson(s) decodes JSON text; numbers become doubles, as in CEL's own JSON mapping."),
			cel.Overload("fromJson_string", []*cel.Type{cel.StringType}, cel.DynType,
				cel.UnaryBinding(func(v ref.Val) ref.Val {
					s, ok := v.(types.String)
					if !ok {
						return types.NoSuchOverloadErr()
					}
					var out any
					if err := json.Unmarshal([]byte(s), &out); err != nil {
						// json.SyntaxError names the offending character, which
						// could come from a secret.
						return failWith("invalid JSON")
					}
					return types.DefaultTypeAdapter.NativeToValue(out)
				}))),
	}
}
