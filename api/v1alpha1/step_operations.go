package v1alpha1

// Operations names the operations a step sets, by their field names; a
// valid step sets exactly one. Validation, metrics and docs read the same
// list, so a new operation cannot be counted in one place and missed in another.
func (s *Step) Operations() []string {
	var ops []string
	for _, op := range []struct {
		name string
		set  bool
	}{
		{"http", s.HTTP != nil}, {"transform", s.Transform != nil}, {"respond", s.Respond != nil},
		{"validate", s.Validate != nil}, {"jwt", s.JWT != nil}, {"call", s.Call != nil},
		{"wait", s.Wait != nil}, {"xmlToJson", s.XMLToJSON != nil},
	} {
		if op.set {
			ops = append(ops, op.name)
		}
	}
	return ops
}

// Operation is the name of the step's operation, or "" when it sets none.
func (s *Step) Operation() string {
	if ops := s.Operations(); len(ops) > 0 {
		return ops[0]
	}
	return ""
}
