package v1alpha1

import "time"

// Duration is a Go duration string such as "500ms", "30s" or "1m30s".
// A plain string (rather than metav1.Duration) lets the API server check the
// format with one rule that every duration field shares.
// +kubebuilder:validation:Type=string
// +kubebuilder:validation:MaxLength=32
// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]+([.][0-9]+)?(ns|us|ms|s|m|h))+$')",message="must be a duration such as 500ms, 30s or 1m30s"
type Duration string

// Parse returns the duration, or def when d is empty.
func (d Duration) Parse(def time.Duration) (time.Duration, error) {
	if d == "" {
		return def, nil
	}
	return time.ParseDuration(string(d))
}
