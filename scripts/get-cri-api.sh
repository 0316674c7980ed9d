#!/bin/bash
# get-cri-api.sh: puts the Kubernetes CRI's api.proto (runtime.v1) at
# /var/cache/ovn-lm/cri-api/api.proto (or $1), for test/e2e/containerd-cri.sh.
# Debian 12 has no package with it; Debian unstable's golang-k8s-cri-api-dev
# does, and is fetched through a private apt configuration
# (scripts/debian-newer.sh) and unpacked with dpkg -x, never installed.
set -euo pipefail
out=${1:-/var/cache/ovn-lm/cri-api/api.proto}
[[ -s $out ]] && exit 0
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
chmod 755 "$tmp"  # apt downloads as _apt
trap 'rm -rf "$tmp"' EXIT
"$here/debian-newer.sh" sid download golang-k8s-cri-api-dev "$tmp/deb" >/dev/null
dpkg -x "$tmp"/deb/golang-k8s-cri-api-dev_*.deb "$tmp/root"
proto=$tmp/root/usr/share/gocode/src/k8s.io/cri-api/pkg/apis/runtime/v1/api.proto
[[ -s $proto ]] || { echo "get-cri-api.sh: no runtime/v1/api.proto in the package" >&2; exit 1; }
mkdir -p "$(dirname "$out")"
cp "$proto" "$out.tmp" && mv "$out.tmp" "$out"
echo "get-cri-api.sh: $out ($(dpkg-deb -f "$tmp"/deb/*.deb Version))"
