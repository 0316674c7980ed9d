#!/bin/bash
# Installs every Debian 12 package ovn-lm needs to build, run and test.
# Idempotent; run as root.  Set OVN_LM_SKIP_APT=1 to skip (e.g. offline).
set -euo pipefail

PACKAGES=(
    # Build.
    build-essential cmake pkg-config python3 libssl-dev
    libmnl-dev libuv1-dev libcjson-dev
    libmicrohttpd-dev           # The daemon's Prometheus endpoint.
    libcurl4-openssl-dev libyaml-dev # The daemon's Kubernetes client.
    openvswitch-source          # libopenvswitch is built from this.
    clang                       # libFuzzer targets.
    # Runtime: OVS 3.1 and OVN 23.03, userspace datapath.
    openvswitch-switch openvswitch-common ovn-central ovn-host ovn-common
    # The lab and the tests.
    iproute2 ethtool iputils-ping tcpdump procps util-linux
    python3-yaml                # test/manifests: the Kubernetes manifests.
    curl openssl                # test/k8s: the API stand-in's checks, its PKI.
    python3-h2                  # test/k8s: the API stand-in's HTTP/2.
    containernetworking-plugins # Reference "bridge" plugin, for benchmarks.
    podman runc busybox-static  # A real CNI client, end to end.
    # The kubelet's path (test/e2e/containerd-cri.sh): containerd's CRI,
    # driven over gRPC by a client generated from the CRI's api.proto.
    containerd python3-grpcio python3-grpc-tools
    mmdebstrap buildah          # scripts/build-image.sh: the DaemonSet's image.
    qemu-system-x86 cpio kmod libc6-dev # Real QEMU live migration (test/vm).
    librsvg2-bin                # The probe's timeline as PNG.
)

if [[ ${OVN_LM_SKIP_APT:-0} == 1 ]]; then
    exit 0
fi
if [[ $(id -u) != 0 ]]; then
    echo "install-deps.sh: must run as root" >&2
    exit 1
fi

missing=()
for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
        missing+=("$p")
done
if ((${#missing[@]})); then
    echo "install-deps.sh: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # The packaged OVS/OVN services are not used: the lab runs its own
    # daemons in namespaces.  Keep the postinst scripts from starting them.
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d.ovn-lm
    chmod +x /usr/sbin/policy-rc.d.ovn-lm
    had_policy=0
    [[ -e /usr/sbin/policy-rc.d ]] && had_policy=1
    [[ $had_policy == 1 ]] || cp /usr/sbin/policy-rc.d.ovn-lm /usr/sbin/policy-rc.d
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    [[ $had_policy == 1 ]] || rm -f /usr/sbin/policy-rc.d
    rm -f /usr/sbin/policy-rc.d.ovn-lm
fi

# The CRI's api.proto: not in Debian 12; unpacked from Debian unstable's
# golang-k8s-cri-api-dev through a private apt configuration.
"$(dirname "$0")/get-cri-api.sh"
