#!/usr/bin/env bash
# Builds the envtest control plane (kube-apiserver, etcd, kubectl) from the Go
# module proxy, because the usual envtest download needs a network this project
# cannot assume. Results are cached per machine, so only the first run is slow
# (about 10 minutes on 2 cores); later runs copy from the cache.
#
# Usage: hack/envtest/build.sh <output-dir>
set -euo pipefail

KUBE_VERSION=v1.37.2
ETCD_VERSION=v3.6.16
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="${1:?usage: build.sh <output-dir>}"
cache="${APPAPI_ENVTEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/appapi/envtest/${KUBE_VERSION}-etcd-${ETCD_VERSION}}"

mkdir -p "$cache" "$out"

kube_ldflags() {
  local major minor
  major="${KUBE_VERSION#v}"; major="${major%%.*}"
  minor="${KUBE_VERSION#v*.}"; minor="${minor%%.*}"
  local flags=""
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    flags+=" -X ${pkg}.gitVersion=${KUBE_VERSION}"
    flags+=" -X ${pkg}.gitMajor=${major} -X ${pkg}.gitMinor=${minor}"
    flags+=" -X ${pkg}.gitTreeState=clean -X ${pkg}.buildDate=1970-01-01T00:00:00Z"
  done
  echo "-s -w${flags}"
}

build() { # build <name> <module-dir> <package> [ldflags]
  local name="$1" dir="$2" pkg="$3" ldflags="${4:--s -w}"
  if [ -x "$cache/$name" ]; then
    return
  fi
  echo "envtest: building $name from $pkg (cached afterwards in $cache)" >&2
  local tmp="$cache/.$name.$$"
  CGO_ENABLED=0 go build -C "$dir" -trimpath -ldflags "$ldflags" -o "$tmp" "$pkg"
  mv "$tmp" "$cache/$name"
}

build etcd "$here/etcd" go.etcd.io/etcd/server/v3
build kube-apiserver "$here/kube" k8s.io/kubernetes/cmd/kube-apiserver "$(kube_ldflags)"
build kubectl "$here/kube" k8s.io/kubernetes/cmd/kubectl "$(kube_ldflags)"

for name in etcd kube-apiserver kubectl; do
  if ! cmp -s "$cache/$name" "$out/$name"; then
    cp "$cache/$name" "$out/$name.tmp" && mv "$out/$name.tmp" "$out/$name"
  fi
done
echo "envtest: kube-apiserver, etcd and kubectl ready in $out" >&2
