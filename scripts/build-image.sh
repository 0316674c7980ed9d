#!/bin/bash
#
# build-image.sh - builds the DaemonSet's OCI image from Debian 12
# packages, without any container registry.
#
#   scripts/build-image.sh [BUILD_DIR]        (as root; or: make -C BUILD_DIR image)
#
# BUILD_DIR (default ./build) holds the built cni/ovn-lm and
# ovn-controller-ext/ovn-controller-ext (OVN_LM_CNI and OVN_LM_DAEMON
# override the two paths).  The result is BUILD_DIR/image/:
#
#   ovn-lm-VERSION.oci.tar     OCI archive, reference localhost/ovn-lm:VERSION
#                              (podman load -i, skopeo, buildah)
#   ovn-lm-VERSION.docker.tar  the same image as a docker-archive, for
#                              "ctr -n k8s.io images import" (containerd)
#   image.env                  IMAGE=, IMAGE_ID=, OCI_ARCHIVE=, ... of the build
#
# VERSION is project(ovn-lm VERSION ...) of CMakeLists.txt, the tag the
# manifests reference.  The name is localhost/ovn-lm: what podman and
# buildah call a locally built image, and a fully qualified reference that
# containerd and CRI-O keep as is, so that the DaemonSet's
# imagePullPolicy: IfNotPresent uses the imported image and never pulls.
# OVN_LM_IMAGE_NAME overrides the name (not the tag).
#
# How: mmdebstrap (variant "extract": no maintainer script runs, no apt or
# dpkg in the result) unpacks the Debian packages that own the shared
# libraries the two binaries load (their NEEDED entries, transitively, as
# ldd resolves them on this machine, mapped to packages with dpkg -S), plus
# dash and coreutils for the init container's /bin/sh script (cp, chmod,
# mv).  Packages apt pulls in only as dependencies of those (dpkg, tar,
# debianutils, ...) are removed again, and so are documentation, manual
# pages and locales (the copyright files stay).  /var/lib/dpkg/status lists
# exactly the packages left, so image scanners see them.  Our binaries go to
# /usr/bin/ovn-controller-ext and /usr/lib/cni/ovn-lm (debug info
# stripped).  buildah commits the tree as one layer into a private store in
# a temporary directory (the machine's container storage is not touched).
#
# Reproducible: SOURCE_DATE_EPOCH (default: the time of the last git commit)
# is the image's creation time and every file's mtime; the same binaries and
# the same Debian packages give the same image ID and byte-identical
# archives, whatever the machine.
#
# Cache: OVN_LM_IMAGE_CACHE (default ~/.cache/ovn-lm/image) keeps apt's
# package lists and the .deb files of the last build; apt still asks the
# mirror whether they are current (an unchanged list costs one small
# request), so a repeated build downloads nothing new and a stale cache is
# never used.  The mirror is the machine's: the entries of
# /etc/apt/sources.list and /etc/apt/sources.list.d for suites bookworm*
# with component main signed by Debian's archive keyring (or unsigned), and
# never another suite; OVN_LM_IMAGE_SOURCES (a sources file) overrides.
#
# Prints the packages, the image's reference and ID, its size (the layer
# unpacked, and gzip-compressed as stored) and how long the build took.

set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=$(realpath "${1:-$ROOT/build}")
OVN_LM_CNI=${OVN_LM_CNI:-$BUILD_DIR/cni/ovn-lm}
OVN_LM_DAEMON=${OVN_LM_DAEMON:-$BUILD_DIR/ovn-controller-ext/ovn-controller-ext}
OUT=$BUILD_DIR/image
CACHE=${OVN_LM_IMAGE_CACHE:-${XDG_CACHE_HOME:-${HOME:-/root}/.cache}/ovn-lm/image}
SUITE=bookworm
started=$(date +%s%N)

die() {
    echo "build-image.sh: $*" >&2
    exit 1
}
say() {
    echo "build-image.sh: $*"
}

VERSION=$(sed -n 's/^project(ovn-lm VERSION \([0-9][0-9.]*\).*/\1/p' \
    "$ROOT/CMakeLists.txt")
[[ -n $VERSION ]] || die "no project(ovn-lm VERSION ...) in CMakeLists.txt"
NAME=${OVN_LM_IMAGE_NAME:-localhost/ovn-lm}
IMAGE=$NAME:$VERSION

[[ $(id -u) == 0 ]] || die "must run as root (mmdebstrap --mode=root, buildah)"
for tool in mmdebstrap buildah dpkg-deb strip ldd python3 flock unshare; do
    command -v "$tool" >/dev/null ||
        die "$tool is missing (scripts/install-deps.sh installs it)"
done
for bin in "$OVN_LM_CNI" "$OVN_LM_DAEMON"; do
    [[ -x $bin ]] || die "no binary at $bin: build first (make -C $BUILD_DIR)"
done

if [[ -z ${SOURCE_DATE_EPOCH:-} ]]; then
    SOURCE_DATE_EPOCH=$(git -C "$ROOT" log -1 --format=%ct 2>/dev/null) ||
        die "not a git checkout: set SOURCE_DATE_EPOCH"
fi
[[ $SOURCE_DATE_EPOCH =~ ^[0-9]+$ ]] ||
    die "SOURCE_DATE_EPOCH=$SOURCE_DATE_EPOCH is not a number of seconds"
export SOURCE_DATE_EPOCH
REVISION=$(git -C "$ROOT" rev-parse HEAD 2>/dev/null || echo unknown)
if [[ $REVISION != unknown ]] && ! git -C "$ROOT" diff --quiet HEAD -- 2>/dev/null; then
    REVISION+=-dirty
fi

# --- The Debian sources: the machine's own, bookworm suites only -----------
sources_file() {
    if [[ -n ${OVN_LM_IMAGE_SOURCES:-} ]]; then
        cat "$OVN_LM_IMAGE_SOURCES"
        return
    fi
    python3 - "$SUITE" <<'PY'
import glob, re, sys
suite = sys.argv[1]
entries = []        # (URIs, Suites, Signed-By or None, Components)
def keep(suites):
    return [s for s in suites if s == suite or s.startswith(suite + "-")]
# One-line format: deb [options] URI SUITE COMPONENT...
for f in ["/etc/apt/sources.list"] + sorted(glob.glob("/etc/apt/sources.list.d/*.list")):
    try:
        lines = open(f).read().splitlines()
    except OSError:
        continue
    for line in lines:
        line = line.split("#", 1)[0].strip()
        m = re.match(r"^deb\s+(?:\[([^\]]*)\]\s+)?(\S+)\s+(\S+)\s+(.*)$",
                     line)
        if m and keep([m.group(3)]):
            sb = re.search(r"(?:^|\s)signed-by=(\S+)", m.group(1) or "")
            entries.append(([m.group(2)], [m.group(3)],
                            sb.group(1) if sb else None, m.group(4).split()))
# deb822 format.
for f in sorted(glob.glob("/etc/apt/sources.list.d/*.sources")):
    try:
        text = open(f).read()
    except OSError:
        continue
    for stanza in re.split(r"\n\s*\n", text):
        fields = {}
        for line in stanza.splitlines():
            if line.startswith("#") or ":" not in line or line[0].isspace():
                continue
            k, v = line.split(":", 1)
            fields[k.strip().lower()] = v.strip()
        if fields.get("enabled", "yes").lower() == "no":
            continue
        if "deb" not in fields.get("types", "").split():
            continue
        suites = keep(fields.get("suites", "").split())
        uris = fields.get("uris", "").split()
        if suites and uris:
            entries.append((uris, suites, fields.get("signed-by"),
                            fields.get("components", "").split()))
# Debian's own archive: component main, signed by Debian's keyring (a
# third-party repository may name its suite after the release too).
entries = [(u, s, sb) for u, s, sb, comps in entries if "main" in comps
           and (sb is None or "debian-archive-keyring" in sb)]
if not entries:
    sys.exit("no Debian " + suite + " entry in the machine's apt sources")
for uris, suites, signed_by in entries:
    print("Types: deb")
    print("URIs: " + " ".join(uris))
    print("Suites: " + " ".join(suites))
    print("Components: main")
    if signed_by:
        print("Signed-By: " + signed_by)
    print()
PY
}

# --- Which packages ----------------------------------------------------------
# lib_packages FILE...: the Debian packages owning the shared libraries FILE
# loads, as the dynamic linker resolves them here.
lib_packages() {
    local f lib pkg
    for f in "$@"; do
        ldd "$f" | sed -n 's/.*=> \(\/[^ ]*\) .*/\1/p; s/^\s*\(\/[^ ]*\) (.*/\1/p'
    done | sort -u | while read -r lib; do
        pkg=
        for cand in "$lib" "$(realpath "$lib")" "${lib#/usr}" \
            "$(realpath "$lib" | sed 's,^/usr,,')"; do
            pkg=$(dpkg -S "$cand" 2>/dev/null | grep -v '^diversion' |
                head -1 | cut -d: -f1) && [[ -n $pkg ]] && break
        done
        echo "${pkg:-MISSING:$lib}"
    done | sort -u
}

# The init container's script runs /bin/sh (dash), cp, chmod and mv.
SHELL_TOOLS=(/bin/sh /bin/cp /bin/chmod /bin/mv)
mapfile -t KEEP < <({
    lib_packages "$OVN_LM_CNI" "$OVN_LM_DAEMON" "${SHELL_TOOLS[@]}"
    echo dash
    echo coreutils
    # libc loads libgcc_s with dlopen (thread cancellation, backtraces).
    echo libgcc-s1
} | sort -u)
[[ ${KEEP[*]} != *MISSING:* ]] ||
    die "no Debian package owns $(printf '%s\n' "${KEEP[@]}" | sed -n 's/^MISSING://p')"
say "packages: ${KEEP[*]}"

# --- The root file system ------------------------------------------------------
mkdir -p "$OUT" "$CACHE/archives" "$CACHE/lists"
# One build at a time uses the cache.
exec 9>"$CACHE/.lock"
flock 9
WORK=$(mktemp -d "$OUT/.work.XXXXXX")
# buildah runs in a mount namespace of its own where /var/lib is an empty
# tmpfs: the image library keeps a machine-wide cache in
# /var/lib/containers/cache whatever --root says.
BUILDAH=(unshare -m sh -c
         'mount -t tmpfs -o size=1m,mode=0755 tmpfs /var/lib && exec "$@"' sh
         buildah --root "$WORK/storage" --runroot "$WORK/run"
         --storage-driver vfs)
CTR=
cleanup() {
    local m
    [[ -z $CTR ]] || "${BUILDAH[@]}" rm "$CTR" >/dev/null 2>&1 || :
    # Nothing should be mounted there (mmdebstrap's extract variant mounts
    # nothing); never remove through a mount.
    while read -r m; do
        umount -l "$m" 2>/dev/null || :
    done < <(awk -v w="$WORK/" 'index($2, w) == 1 { print $2 }' \
        /proc/self/mounts | sort -r)
    rm -rf --one-file-system "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
# buildah and the image library read these; keep them off the machine's.
printf '[storage]\ndriver = "vfs"\nrunroot = "%s"\ngraphroot = "%s"\n' \
    "$WORK/run" "$WORK/storage" >"$WORK/storage.conf"
export CONTAINERS_STORAGE_CONF=$WORK/storage.conf
export TMPDIR=$WORK

sources_file >"$WORK/sources"
ROOTFS=$WORK/rootfs
mkdir -p "$WORK/debs"
# The hooks.  setup: merged /usr as in Debian 12 (not with mmdebstrap's
# merged-usr hook, which installs a dummy package with dpkg), and apt's
# lists and archives from the cache.  extract: the packages apt chose (as
# "name version"), their .deb files (for the status file and the cache)
# and the lists, taken out before mmdebstrap's cleanup removes them.
{
    echo '#!/bin/sh'
    echo 'set -eu'
    echo 'for d in bin sbin lib lib64; do'
    echo '    ln -s "usr/$d" "$1/$d"'
    echo '    mkdir -p "$1/usr/$d"'
    echo 'done'
    echo 'mkdir -p "$1/var/lib/apt/lists" "$1/var/cache/apt/archives"'
    printf 'cp -a %q "$1/var/lib/apt/lists/"\n' "$CACHE/lists/."
    printf 'cp -a %q "$1/var/cache/apt/archives/"\n' "$CACHE/archives/."
} >"$WORK/setup-hook"
{
    echo '#!/bin/sh'
    echo 'set -eu'
    printf 'APT_CONFIG=$MMDEBSTRAP_APT_CONFIG apt-get -s -qq install %s |\n' \
        "${KEEP[*]}"
    printf '    sed -n %q >%q\n' 's/^Inst \([^ ]*\) (\([^ ]*\) .*/\1 \2/p' \
        "$WORK/chosen"
    echo 'while read -r pkg ver; do'
    echo '    v=$(echo "$ver" | sed "s/:/%3a/")'
    printf '    cp -a "$1/var/cache/apt/archives/${pkg}_${v}_"*.deb %q\n' \
        "$WORK/debs/"
    printf 'done <%q\n' "$WORK/chosen"
    printf 'cp -a "$1/var/lib/apt/lists" %q\n' "$WORK/lists"
} >"$WORK/extract-hook"
chmod +x "$WORK/setup-hook" "$WORK/extract-hook"
# Documentation, manual pages and locales are left out as dpkg's
# path-exclude does it in Debian's own minimal images; copyright files stay.
# OVN_LM_IMAGE_VERBOSE=1: apt's and mmdebstrap's output.
MMDEBSTRAP_VERBOSITY=--quiet
[[ -z ${OVN_LM_IMAGE_VERBOSE:-} ]] || MMDEBSTRAP_VERBOSITY=--verbose
say "mmdebstrap $SUITE (cache $CACHE)"
t0=$(date +%s%N)
mmdebstrap --variant=extract --mode=root --format=directory "$MMDEBSTRAP_VERBOSITY" \
    --include="$(IFS=,; echo "${KEEP[*]}")" \
    --aptopt='Acquire::Languages "none"' \
    --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/info/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' \
    --dpkgopt='path-exclude=/usr/share/lintian/*' \
    --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --setup-hook="$WORK/setup-hook" --extract-hook="$WORK/extract-hook" \
    "$SUITE" "$ROOTFS" "$WORK/sources" ||
    die "mmdebstrap failed"
t_mmdebstrap=$(($(date +%s%N) - t0))
[[ -s $WORK/chosen && -d $ROOTFS/usr/lib ]] ||
    die "mmdebstrap left no tree or its extract hook found no package"
# The cache is now exactly this build's lists and packages.
rm -rf "$WORK/lists/lock" "$WORK/lists/partial" "$CACHE/lists" \
    "$CACHE/archives"
cp -a "$WORK/lists" "$CACHE/lists"
cp -a "$WORK/debs" "$CACHE/archives"

# Packages apt pulled in that nothing needs: remove their files.
declare -A keep_set=()
for p in "${KEEP[@]}"; do keep_set[$p]=1; done
dropped=()
status=$WORK/status
: >"$status"
for deb in $(printf '%s\n' "$WORK"/debs/*.deb | sort); do
    pkg=$(dpkg-deb -f "$deb" Package)
    if [[ -n ${keep_set[$pkg]:-} ]]; then
        # Control fields plus Status, as dpkg writes its status file.
        dpkg-deb -f "$deb" | awk '{ print } /^Package:/ {
            print "Status: install ok installed" }' >>"$status"
        echo >>"$status"
        continue
    fi
    dropped+=("$pkg")
    dpkg-deb --fsys-tarfile "$deb" | tar -t | sed 's,^\./,,' |
        sort -r | while read -r path; do
        [[ -n $path && $path != . && $path != ./ ]] || continue
        if [[ $path == */ ]]; then
            [[ -L $ROOTFS/${path%/} ]] ||
                rmdir "$ROOTFS/${path%/}" 2>/dev/null || :
        else
            rm -f "$ROOTFS/$path"
        fi
    done
done
((${#dropped[@]} == 0)) || say "removed again (dependencies only): ${dropped[*]}"
for p in "${KEEP[@]}"; do
    grep -qx "Package: $p" "$status" || die "apt did not choose $p"
done

# What the image does not need: apt's and dpkg's configuration and state
# (no package manager runs in it), and files that differ between machines.
rm -rf "$ROOTFS"/etc/apt "$ROOTFS"/var/lib/apt "$ROOTFS"/var/cache/apt \
    "$ROOTFS"/var/lib/dpkg "$ROOTFS"/etc/dpkg "$ROOTFS"/var/log/* \
    "$ROOTFS"/etc/resolv.conf "$ROOTFS"/etc/hostname "$ROOTFS"/dev
find "$ROOTFS"/usr/share -mindepth 1 -type d -empty -delete
mkdir -p "$ROOTFS"/var/lib/dpkg
install -m 0644 "$status" "$ROOTFS"/var/lib/dpkg/status

# The runtime mounts over these; /var/run is /run as on any Debian system,
# so /var/run/netns and /run/netns name the same directory.
mkdir -p "$ROOTFS"/{dev,proc,sys,run,etc,var/lib,tmp,root}
chmod 1777 "$ROOTFS"/tmp
chmod 0700 "$ROOTFS"/root
ln -sfn /run "$ROOTFS"/var/run
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$ROOTFS"/etc/passwd
printf 'root:x:0:\n' >"$ROOTFS"/etc/group
printf 'passwd: files\ngroup: files\nhosts: files dns\n' \
    >"$ROOTFS"/etc/nsswitch.conf

# Our binaries.
mkdir -p "$ROOTFS"/usr/lib/cni "$ROOTFS"/usr/share/doc/ovn-lm
strip --strip-debug -o "$ROOTFS"/usr/bin/ovn-controller-ext "$OVN_LM_DAEMON"
strip --strip-debug -o "$ROOTFS"/usr/lib/cni/ovn-lm "$OVN_LM_CNI"
chmod 0755 "$ROOTFS"/usr/bin/ovn-controller-ext "$ROOTFS"/usr/lib/cni/ovn-lm
for p in "${KEEP[@]}"; do
    awk -v p="$p" '$1 == "Package:" { n = $2 }
        $1 == "Version:" && n == p { print p, $2 }' "$status"
done >"$ROOTFS"/usr/share/doc/ovn-lm/image-packages

# Every ELF file finds its libraries inside the tree.
for f in /usr/bin/ovn-controller-ext /usr/lib/cni/ovn-lm "${SHELL_TOOLS[@]}"; do
    if chroot "$ROOTFS" /lib64/ld-linux-x86-64.so.2 --list "$f" |
        grep -q 'not found'; then
        chroot "$ROOTFS" /lib64/ld-linux-x86-64.so.2 --list "$f" >&2
        die "$f misses a library in the image"
    fi
done

# --- The image -------------------------------------------------------------------
tar --sort=name --mtime="@$SOURCE_DATE_EPOCH" --clamp-mtime --owner=0 \
    --group=0 --numeric-owner --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime \
    -C "$ROOTFS" -cf "$WORK/rootfs.tar" .
CTR=$("${BUILDAH[@]}" from --quiet scratch)
"${BUILDAH[@]}" add --quiet "$CTR" "$WORK/rootfs.tar" / >/dev/null
"${BUILDAH[@]}" config \
    --os linux --arch "$(dpkg --print-architecture)" \
    --env PATH=/usr/sbin:/usr/bin:/sbin:/bin \
    --workingdir / \
    --cmd '["/usr/bin/ovn-controller-ext", "--help"]' \
    --label org.opencontainers.image.title=ovn-lm \
    --label org.opencontainers.image.version="$VERSION" \
    --label org.opencontainers.image.revision="$REVISION" \
    --label org.opencontainers.image.description="ovn-lm node daemon (ovn-controller-ext) and CNI plugin, Debian $SUITE" \
    --created-by "scripts/build-image.sh" \
    "$CTR"
OCI=$OUT/ovn-lm-$VERSION.oci.tar
DOCKER=$OUT/ovn-lm-$VERSION.docker.tar
rm -f "$OCI" "$DOCKER"
"${BUILDAH[@]}" commit --quiet --format oci --timestamp "$SOURCE_DATE_EPOCH" \
    "$CTR" "$IMAGE" >/dev/null
"${BUILDAH[@]}" push --quiet "$IMAGE" "oci-archive:$OCI:$IMAGE"
"${BUILDAH[@]}" push --quiet --format v2s2 "$IMAGE" "docker-archive:$DOCKER:$IMAGE"
IMAGE_ID=$("${BUILDAH[@]}" inspect --type image --format '{{.FromImageID}}' "$IMAGE")
# The archives' own tar headers carry the time of the push (OCI) and come
# in no fixed order (docker): sort the members and clamp their mtimes to
# SOURCE_DATE_EPOCH, so that the files are byte-for-byte reproducible, not
# only the image.
python3 - "$SOURCE_DATE_EPOCH" "$OCI" "$DOCKER" <<'PY'
import os, sys, tarfile
epoch = int(sys.argv[1])
for path in sys.argv[2:]:
    with tarfile.open(path) as src, \
            tarfile.open(path + ".sorted", "w",
                         format=tarfile.PAX_FORMAT) as dst:
        for m in sorted(src.getmembers(), key=lambda m: m.name):
            m.mtime = min(m.mtime, epoch)
            dst.addfile(m, src.extractfile(m) if m.isfile() else None)
    os.replace(path + ".sorted", path)
PY

# --- Figures -------------------------------------------------------------------
# The layer as stored (gzip) and unpacked.
read -r LAYER_BYTES GZIP_BYTES <<<"$(python3 - "$OCI" <<'PY'
import gzip, json, sys, tarfile
t = tarfile.open(sys.argv[1])
def blob(d):
    return t.extractfile("blobs/" + d.replace(":", "/")).read()
index = json.loads(t.extractfile("index.json").read())
manifest = json.loads(blob(index["manifests"][0]["digest"]))
size = packed = 0
for layer in manifest["layers"]:
    data = blob(layer["digest"])
    packed += len(data)
    size += len(gzip.decompress(data) if "gzip" in layer["mediaType"]
                else data)
print(size, packed)
PY
)"
ARCHIVE_BYTES=$(stat -c %s "$OCI")
elapsed=$(($(date +%s%N) - started))
# mib BYTES, secs NANOSECONDS: one decimal.
mib() {
    printf '%d.%d' $(($1 / 1048576)) $(($1 % 1048576 * 10 / 1048576))
}
secs() {
    printf '%d.%d' $(($1 / 1000000000)) $(($1 % 1000000000 / 100000000))
}
cat >"$OUT/image.env" <<EOF
IMAGE=$IMAGE
IMAGE_ID=$IMAGE_ID
OCI_ARCHIVE=$OCI
DOCKER_ARCHIVE=$DOCKER
VERSION=$VERSION
SOURCE_DATE_EPOCH=$SOURCE_DATE_EPOCH
REVISION=$REVISION
LAYER_BYTES=$LAYER_BYTES
GZIP_BYTES=$GZIP_BYTES
ARCHIVE_BYTES=$ARCHIVE_BYTES
EOF
say "image $IMAGE id ${IMAGE_ID:0:12} (SOURCE_DATE_EPOCH=$SOURCE_DATE_EPOCH)"
say "  $OCI"
say "  $DOCKER"
say "size: $(mib "$LAYER_BYTES") MiB uncompressed, $(mib "$GZIP_BYTES") MiB compressed (gzip layer; OCI archive $(mib "$ARCHIVE_BYTES") MiB)"
say "built in $(secs "$elapsed") s (mmdebstrap $(secs "$t_mmdebstrap") s)"
