package expr

import (
	"math"
	"strings"
	"unicode/utf8"

	"github.com/google/cel-go/common"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/common/types/traits"
)

// callCosts is the cost model of the functions whose work grows with their
// inputs. Each entry prices one call from its arguments alone, before it
// runs, so that a guard (guards.go) can refuse a call that would by itself
// use more than CostLimit; chargeAfter charges the same price once it ran.
// Where cel-go's libraries price a function, the price is theirs, except
// that where they measure the result (replace, split, join, substring) the
// result's size is counted from the inputs without building it: a call is
// refused exactly when cel-go would have stopped the evaluation after it.
// Functions cel-go prices at 1 are priced by what they read and write: 0.1
// per character, cel-go's price of a string traversal, and 1 per value.
// Walks over nested values stop once the price passes the limit, so pricing
// a call never costs more than the call may.
var callCosts = map[string]func(args []ref.Val) uint64{
	// n*m comparisons.
	"sets.contains":   setsCost(1),
	"sets.intersects": setsCost(1),
	"sets.equivalent": setsCost(2),

	// Strings: []rune conversions and searches over the whole receiver.
	"charAt":        func(a []ref.Val) uint64 { return sum(callCost, traversal(size(a, 0)), 1) },
	"indexOf":       searchCost,
	"lastIndexOf":   searchCost,
	"lowerAscii":    transformCost,
	"upperAscii":    transformCost,
	"trim":          transformCost,
	"reverse":       reverseCost,
	"substring":     substringCost,
	"replace":       replaceCost,
	"split":         splitCost,
	"join":          joinCost,
	"format":        formatCost,
	"strings.quote": func(a []ref.Val) uint64 { n := size(a, 0); return sum(callCost, traversal(n), traversal(2*n+2)) },

	// Lists: allocations as large as the result, and O(n²) comparisons.
	"slice":                 sliceCost,
	"lists.range":           rangeCost,
	"flatten":               flattenCost,
	"distinct":              selfCompareCost(0),
	"sort":                  selfCompareCost(0),
	"@sortByAssociatedKeys": selfCompareCost(1),
	"math.@min":             mathListCost,
	"math.@max":             mathListCost,

	// Encoders.
	"base64.encode": readCost,
	"base64.decode": readCost,
	// cel-go charges json.encode the largest cost there is after it ran, so
	// it always fails; refuse it before it does the work.
	"json.encode": func([]ref.Val) uint64 { return math.MaxUint64 },

	// A regular expression runs in time proportional to the text times the
	// pattern; the pattern may come from the request.
	"matches": matchesCost,

	// appapi's own functions.
	"sha256":     readCost,
	"hmacSha256": readCost,
	"urlEncode":  readCost,
	"urlDecode":  readCost,
	"fromJson":   readCost,
	"toJson":     valueCost,
}

// afterCosts are operators that do their work before cel-go can price them
// and whose cel-go price depends on the argument types being known when the
// expression is checked: with dyn arguments (a request body, a step's
// output) cel-go charges them 1 whatever their size. They cannot amplify
// work by themselves, so charging them afterwards, by size, is enough.
var afterCosts = map[string]func(args []ref.Val) uint64{
	// List concatenation is lazy: charged 1, `l + l` doubles a list at no
	// cost, and 30 doublings make a list that no iteration, `in` or result
	// conversion ever finishes. Charging the smaller operand keeps every
	// list no larger than the work charged to build it; appending one
	// element, as map() does each iteration, still costs 1.
	"_+_":  addCost,
	"@in":  inCost,
	"_in_": inCost,
	"in":   inCost,
}

// costEstimator charges guarded and after-priced calls after they ran, when
// cel-go has no tracker for the call's overload: for calls with dyn
// arguments, which cel-go dispatches by function name, and for the
// operators in afterCosts.
type costEstimator struct{}

func (costEstimator) CallCost(function, _ string, args []ref.Val, result ref.Val) *uint64 {
	price, ok := callCosts[function]
	if !ok {
		price, ok = afterCosts[function]
	}
	if !ok {
		return nil
	}
	return chargeAfter(price)(args, result)
}

// chargeAfter charges a call its price, unless it failed: a guard refused
// it, or it stopped at bad input, before doing the work priced. Charging the
// full price would end the evaluation with an error that does not say which
// call was refused.
func chargeAfter(price func([]ref.Val) uint64) func([]ref.Val, ref.Val) *uint64 {
	return func(args []ref.Val, result ref.Val) *uint64 {
		cost := uint64(callCost)
		if !types.IsError(result) {
			cost = price(args)
		}
		return &cost
	}
}

const (
	callCost   = 1
	listCreate = common.ListCreateBaseCost
	// charFactor is cel-go's price of reading one character.
	charFactor = common.StringTraversalCostFactor
	// scalarText bounds the text of a number, bool, null, timestamp or
	// duration: a double printed with the largest precision format allows.
	scalarText = 512
)

// traversal is the price of reading n characters.
func traversal(n uint64) uint64 {
	f := math.Ceil(float64(n) * charFactor)
	if f >= math.MaxUint64 {
		return math.MaxUint64
	}
	return uint64(f)
}

// sum adds without overflowing.
func sum(xs ...uint64) uint64 {
	var total uint64
	for _, x := range xs {
		if total > math.MaxUint64-x {
			return math.MaxUint64
		}
		total += x
	}
	return total
}

// product multiplies without overflowing.
func product(x, y uint64) uint64 {
	if y != 0 && x > math.MaxUint64/y {
		return math.MaxUint64
	}
	return x * y
}

// size is cel-go's size of argument i: characters of a string, bytes,
// elements of a list or map; 1 for anything else or a missing argument.
func size(args []ref.Val, i int) uint64 {
	if i >= len(args) {
		return 1
	}
	if s, ok := args[i].(traits.Sizer); ok {
		if n, ok := s.Size().(types.Int); ok && n >= 0 {
			return uint64(n)
		}
	}
	return 1
}

// intArg returns argument i as an int, if it is one.
func intArg(args []ref.Val, i int) (int64, bool) {
	if i >= len(args) {
		return 0, false
	}
	n, ok := args[i].(types.Int)
	return int64(n), ok
}

func strArg(args []ref.Val, i int) (string, bool) {
	if i >= len(args) {
		return "", false
	}
	s, ok := args[i].(types.String)
	return string(s), ok
}

func setsCost(factor uint64) func([]ref.Val) uint64 {
	return func(a []ref.Val) uint64 { return sum(callCost, product(factor, product(size(a, 0), size(a, 1)))) }
}

func searchCost(a []ref.Val) uint64 {
	return sum(traversal(product(size(a, 0), size(a, 1))), callCost)
}

// transformCost prices a string function whose result is at most as long as
// its receiver.
func transformCost(a []ref.Val) uint64 {
	n := size(a, 0)
	return sum(callCost, traversal(n), n)
}

func reverseCost(a []ref.Val) uint64 {
	if _, ok := a[0].(traits.Lister); ok {
		return sum(size(a, 0), callCost, listCreate)
	}
	return transformCost(a)
}

func substringCost(a []ref.Val) uint64 {
	n := size(a, 0)
	start, _ := intArg(a, 1)
	end, hasEnd := intArg(a, 2)
	if !hasEnd {
		end = int64(min(n, math.MaxInt64))
	}
	var result uint64
	if 0 <= start && start <= end && uint64(end) <= n {
		result = uint64(end - start)
	}
	return sum(callCost, traversal(n), result)
}

// replaceCost counts the replacements, which reads the receiver once and
// allocates nothing, to know the result's length.
func replaceCost(a []ref.Val) uint64 {
	s, ok1 := strArg(a, 0)
	old, ok2 := strArg(a, 1)
	repl, ok3 := strArg(a, 2)
	if !ok1 || !ok2 || !ok3 {
		return callCost
	}
	n := uint64(utf8.RuneCountInString(s))
	oldLen := uint64(utf8.RuneCountInString(old))
	newLen := uint64(utf8.RuneCountInString(repl))
	search := traversal(product(max(n, 1), max(oldLen, 1)))
	if search > CostLimit {
		return sum(callCost, search)
	}
	count := uint64(strings.Count(s, old))
	if limit, ok := intArg(a, 3); ok && limit >= 0 {
		count = min(count, uint64(limit))
	}
	result := sum(n-product(count, oldLen), product(count, newLen))
	return sum(callCost, search, result)
}

func splitCost(a []ref.Val) uint64 {
	s, ok1 := strArg(a, 0)
	sep, ok2 := strArg(a, 1)
	if !ok1 || !ok2 {
		return callCost
	}
	n := uint64(utf8.RuneCountInString(s))
	parts := uint64(strings.Count(s, sep)) + 1
	if limit, ok := intArg(a, 2); ok && limit >= 0 {
		parts = min(parts, uint64(limit))
	}
	return sum(callCost, traversal(n+1), parts, listCreate)
}

func joinCost(a []ref.Val) uint64 {
	l, ok := a[0].(traits.Lister)
	if !ok {
		return callCost
	}
	count := size(a, 0)
	sep := size(a, 1)
	if len(a) < 2 {
		sep = 0
	}
	base := sum(callCost, traversal(count+1))
	result := product(sep, count)
	for it := l.Iterator(); it.HasNext() == types.True && result <= CostLimit; {
		if s, ok := it.Next().(types.String); ok {
			result = sum(result, uint64(utf8.RuneCountInString(string(s))))
		}
	}
	return sum(base, result)
}

// formatCost bounds the result: each % clause formats the next argument, in
// order, so the result is at most the format plus every argument's text.
func formatCost(a []ref.Val) uint64 {
	f, ok := strArg(a, 0)
	if !ok || len(a) < 2 {
		return callCost
	}
	l, ok := a[1].(traits.Lister)
	if !ok {
		return callCost
	}
	clauses := strings.Count(f, "%")
	out := uint64(len(f))
	limit := CostLimit * 10 // characters, at 0.1 each
	for i := 0; i < clauses && types.Int(i) < l.Size().(types.Int) && out <= limit; i++ {
		out = sum(out, textBound(l.Get(types.Int(i)), limit-out))
	}
	return sum(callCost, traversal(uint64(len(f))), traversal(out))
}

// textBound bounds the length of a value's text as format writes it: a
// string inside a list is quoted, and an escape takes up to four characters
// per byte. It stops counting past limit.
func textBound(v ref.Val, limit uint64) uint64 {
	var n uint64
	walkValue(v, func(v ref.Val) bool {
		switch val := v.(type) {
		case types.String:
			n = sum(n, product(4, uint64(len(val))), 2)
		case types.Bytes:
			n = sum(n, product(4, uint64(len(val))), 2)
		case traits.Lister, traits.Mapper:
			n = sum(n, 2)
		default:
			n = sum(n, scalarText)
		}
		n = sum(n, 2) // separator
		return n <= limit
	})
	return n
}

// valueCost prices toJson: 1 per value and 0.1 per character of text.
func valueCost(a []ref.Val) uint64 {
	var values, chars uint64
	walkValue(a[0], func(v ref.Val) bool {
		values++
		switch val := v.(type) {
		case types.String:
			chars = sum(chars, uint64(len(val)))
		case types.Bytes:
			chars = sum(chars, product(2, uint64(len(val)))) // base64
		}
		return sum(values, traversal(chars)) <= CostLimit
	})
	return sum(callCost, values, traversal(chars))
}

// walkValue calls visit for v and, depth first, every element, key and
// value inside it, until visit returns false. A value may appear more than
// once (a list holding the same list twice); it is visited each time, since
// each occurrence is converted.
func walkValue(v ref.Val, visit func(ref.Val) bool) bool {
	if !visit(v) {
		return false
	}
	switch val := v.(type) {
	case traits.Mapper:
		for it := val.Iterator(); it.HasNext() == types.True; {
			k := it.Next()
			if !walkValue(k, visit) || !walkValue(val.Get(k), visit) {
				return false
			}
		}
	case traits.Lister:
		for it := val.Iterator(); it.HasNext() == types.True; {
			if !walkValue(it.Next(), visit) {
				return false
			}
		}
	}
	return true
}

func sliceCost(a []ref.Val) uint64 {
	start, ok1 := intArg(a, 1)
	end, ok2 := intArg(a, 2)
	var result uint64
	if ok1 && ok2 && 0 <= start && start <= end {
		result = uint64(end - start)
	}
	return sum(result, callCost, listCreate)
}

func rangeCost(a []ref.Val) uint64 {
	n, _ := intArg(a, 0)
	return sum(uint64(max(n, 0)), callCost, listCreate)
}

// flattenCost counts the elements flatten visits, which is at least as many
// as it returns.
func flattenCost(a []ref.Val) uint64 {
	l, ok := a[0].(traits.Lister)
	if !ok {
		return callCost
	}
	depth := int64(1)
	if d, ok := intArg(a, 1); ok {
		depth = d
	}
	var visited uint64
	var walk func(l traits.Lister, depth int64) bool
	walk = func(l traits.Lister, depth int64) bool {
		if depth <= 0 {
			visited = sum(visited, uint64(l.Size().(types.Int)))
			return visited <= CostLimit
		}
		for it := l.Iterator(); it.HasNext() == types.True; {
			visited++
			if visited > CostLimit {
				return false
			}
			if inner, ok := it.Next().(traits.Lister); ok && !walk(inner, depth-1) {
				return false
			}
		}
		return true
	}
	walk(l, depth)
	return sum(visited, callCost, listCreate)
}

// selfCompareCost is cel-go's price of sorting or deduplicating the list
// argument i: n² comparisons, a little more for strings and bytes.
func selfCompareCost(i int) func([]ref.Val) uint64 {
	return func(a []ref.Val) uint64 {
		if i >= len(a) {
			return callCost
		}
		n := size(a, i)
		l, ok := a[i].(traits.Lister)
		if !ok || n == 0 {
			return sum(callCost, listCreate)
		}
		factor := 2.0
		if t := l.Get(types.IntZero).Type(); t == types.StringType || t == types.BytesType {
			factor += charFactor
		}
		f := float64(product(n, n)) * factor
		if f >= math.MaxUint64 {
			return math.MaxUint64
		}
		return sum(uint64(f), callCost, listCreate)
	}
}

func mathListCost(a []ref.Val) uint64 {
	if len(a) == 1 {
		if _, ok := a[0].(traits.Lister); ok {
			return sum(size(a, 0), callCost)
		}
	}
	return callCost
}

// readCost prices a function that reads its string or bytes arguments once.
func readCost(a []ref.Val) uint64 {
	var n uint64
	for i := range a {
		n = sum(n, size(a, i))
	}
	return sum(callCost, traversal(n))
}

// matchesCost is cel-go's price of a regular expression match.
func matchesCost(a []ref.Val) uint64 {
	text := traversal(size(a, 0) + 1)
	pattern := uint64(math.Ceil(float64(size(a, 1)) * common.RegexStringLengthCostFactor))
	return product(text, pattern)
}

func addCost(a []ref.Val) uint64 {
	if len(a) != 2 {
		return callCost
	}
	switch a[0].(type) {
	case traits.Lister:
		return max(callCost, min(size(a, 0), size(a, 1)))
	case types.String, types.Bytes:
		return traversal(size(a, 0) + size(a, 1))
	}
	return callCost
}

func inCost(a []ref.Val) uint64 {
	if len(a) == 2 {
		if _, ok := a[1].(traits.Lister); ok {
			return size(a, 1)
		}
	}
	return callCost
}
