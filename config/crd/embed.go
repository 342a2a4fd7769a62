// Package crd embeds the CustomResourceDefinitions that `make manifests`
// generates into bases/, so that a binary can apply their defaults and
// validation without a cluster (the gateway's local mode does).
package crd

import "embed"

// Bases holds bases/*.yaml, the CRDs as installed into a cluster.
//
//go:embed bases/*.yaml
var Bases embed.FS
