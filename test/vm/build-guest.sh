#!/bin/bash
#
# build-guest.sh OUTDIR - assemble the tiny test guest for test/vm/vm.sh.
#
# Writes into OUTDIR:
#   vmlinuz      the kernel of Debian's linux-image-*-cloud-amd64 (or
#                $VM_KERNEL_PKG), taken from the .deb
#   initrd.img   gzip'ed newc cpio: busybox (busybox-static .deb), /init
#                (guest/init), /sbin/guestd (guest/guestd.c, gcc -static),
#                the virtio-net modules of that same kernel in load order
#   guest.env    KEY='value' lines describing the build (sourceable)
#
# Only Debian packages are used: the two .debs are fetched with
# 'apt-get download' (nothing is installed) and kept in the cache.  A build
# is keyed by the package versions and the sources; a repeated build with
# the same key only copies the cached result (instant).
#
# Environment:
#   VM_CACHE_DIR     cache (debs + built guests)   default /var/cache/ovn-lm-vm
#   VM_KERNEL_PKG    kernel metapackage            default linux-image-cloud-amd64
#   VM_GUEST_MODULES modules to load (deps added)  default "virtio_pci virtio_net"
#
# Needs: apt-get/apt-cache (lists present: 'apt-get update' once), dpkg-deb,
# gcc + libc6-dev (static libc), cpio, gzip, modinfo (kmod), flock, sha256sum.

set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${VM_CACHE_DIR:-/var/cache/ovn-lm-vm}
KPKG=${VM_KERNEL_PKG:-linux-image-cloud-amd64}
MODULES=${VM_GUEST_MODULES:-virtio_pci virtio_net}

die() {
    echo "build-guest: error: $*" >&2
    exit 1
}
log() { echo "build-guest: $*" >&2; }

[[ $# -eq 1 ]] || die "usage: $0 OUTDIR"
OUT=$1

PATH=$PATH:/usr/sbin:/sbin
for c in apt-get apt-cache dpkg-deb gcc cpio gzip modinfo flock sha256sum; do
    command -v "$c" >/dev/null ||
        die "'$c' not found (packages: see test/vm/README.md)"
done

# candidate_version PKG: the version apt would fetch.
candidate_version() {
    apt-cache show --no-all-versions "$1" 2>/dev/null |
        awk '/^Version:/ { print $2; exit }'
}

# resolve: sets KDEP (the versioned kernel package behind the metapackage,
# e.g. linux-image-6.1.0-56-cloud-amd64), KVER and BBVER (candidate
# versions).  apt-cache takes ~1 s a call here, so the answer is kept in the
# cache, keyed by the apt lists' names, sizes and times.
resolve() {
    local stamp rfile
    stamp=$(stat -c '%n %s %Y' /var/lib/apt/lists/*Packages* 2>/dev/null |
        cat - <(echo "$KPKG") | sha256sum | cut -c1-16)
    rfile=$CACHE/resolved-$stamp
    RESOLVED=$rfile
    if [[ -r $rfile ]]; then
        read -r KDEP KVER BBVER <"$rfile"
        [[ -n $BBVER ]] && return 0
    fi
    if [[ $KPKG =~ ^linux-image-[0-9] ]]; then
        KDEP=$KPKG
    else
        KDEP=$(apt-cache depends "$KPKG" 2>/dev/null |
            awk '/Depends: linux-image-[0-9]/ { print $2; exit }')
    fi
    [[ -n $KDEP ]] || die "cannot resolve $KPKG (run 'apt-get update' once)"
    KVER=$(candidate_version "$KDEP")
    BBVER=$(candidate_version busybox-static)
    [[ -n $KVER && -n $BBVER ]] ||
        die "no candidate for $KDEP or busybox-static (run 'apt-get update')"
    mkdir -p "$CACHE"
    echo "$KDEP $KVER $BBVER" >"$rfile.$$"
    mv -f "$rfile.$$" "$rfile"
}
resolve

SRC_SUM=$(cat "$HERE/build-guest.sh" "$HERE/guest/init" \
    "$HERE/guest/guestd.c" | sha256sum | cut -c1-16)
KEY=$(printf '%s\n' "$KDEP=$KVER" "busybox-static=$BBVER" "src=$SRC_SUM" \
    "modules=$MODULES" | sha256sum | cut -c1-16)

# Fast path: OUTDIR already holds this build.
if [[ -r $OUT/guest.env ]] && grep -qx "GUEST_KEY='$KEY'" "$OUT/guest.env" &&
    [[ -s $OUT/vmlinuz && -s $OUT/initrd.img ]]; then
    log "up to date ($OUT, key $KEY)"
    exit 0
fi

mkdir -p "$CACHE/debs" "$OUT"
exec 9>"$CACHE/.lock"
flock 9

BUILT=$CACHE/guest-$KEY
if [[ ! -s $BUILT/guest.env ]]; then
    t0=${EPOCHREALTIME/./}

    # fetch_deb PKG VERSION: path of the .deb in the cache, downloading it
    # if needed.  'apt-get download' runs in a scratch dir readable by _apt.
    fetch_deb() {
        local pkg=$1 ver=$2 f d
        for f in "$CACHE/debs/${pkg}_"*.deb; do
            if [[ -e $f && $(dpkg-deb -f "$f" Version) == "$ver" ]]; then
                echo "$f"
                return 0
            fi
        done
        d=$(mktemp -d "$CACHE/debs/dl.XXXXXX")
        chmod 755 "$d"
        log "downloading $pkg=$ver"
        (cd "$d" && apt-get download -q "$pkg=$ver" 2>&1 |
            grep -v 'unsandboxed as root' >&2) || true
        f=$(echo "$d/${pkg}_"*.deb)
        [[ -s $f ]] || { rm -rf "$d"; die "apt-get download $pkg=$ver failed"; }
        mv "$f" "$CACHE/debs/"
        rmdir "$d"
        echo "$CACHE/debs/${f##*/}"
    }
    KDEB=$(fetch_deb "$KDEP" "$KVER")
    BBDEB=$(fetch_deb busybox-static "$BBVER")

    W=$(mktemp -d "$CACHE/build.XXXXXX")
    trap 'rm -rf "$W"' EXIT
    log "building guest $KEY ($KDEP $KVER, busybox $BBVER)"

    dpkg-deb -x "$KDEB" "$W/k"
    vmlinuz=$(echo "$W"/k/boot/vmlinuz-*)
    [[ -s $vmlinuz ]] || die "no vmlinuz in $KDEB"
    uname_r=${vmlinuz##*/vmlinuz-}
    moddir=$W/k/lib/modules/$uname_r

    R=$W/root
    mkdir -p "$R"/{bin,sbin,proc,sys,dev,tmp,run,lib/modules}

    # Modules: each requested one after its dependencies (modinfo depends),
    # skipping built-ins.
    declare -A seen=()
    order=()
    add_module() {
        local m=${1//-/_} f dep
        [[ -n ${seen[$m]:-} ]] && return 0
        seen[$m]=1
        if grep -qE "/${m//_/[-_]}\.ko$" "$moddir/modules.builtin" 2>/dev/null
        then
            return 0
        fi
        f=$(find "$moddir" -regextype posix-extended \
            -regex ".*/${m//_/[-_]}\.ko(\.xz|\.zst|\.gz)?" | head -n1)
        [[ -n $f ]] || die "module $m not in $KDEP"
        for dep in $(modinfo -F depends "$f" | tr ',' ' '); do
            add_module "$dep"
        done
        case $f in
        *.ko) cp "$f" "$R/lib/modules/$m.ko" ;;
        *.ko.xz) xz -dc "$f" >"$R/lib/modules/$m.ko" ;;
        *.ko.zst) zstd -qdc "$f" >"$R/lib/modules/$m.ko" ;;
        *.ko.gz) gzip -dc "$f" >"$R/lib/modules/$m.ko" ;;
        esac
        order+=("$m")
    }
    for m in $MODULES; do
        add_module "$m"
    done
    printf '%s\n' "${order[@]}" >"$R/lib/modules/load-order"

    dpkg-deb -x "$BBDEB" "$W/bb"
    cp "$W/bb/bin/busybox" "$R/bin/busybox"
    gcc -static -O2 -Wall -o "$R/sbin/guestd" "$HERE/guest/guestd.c"
    strip "$R/sbin/guestd" 2>/dev/null || true
    cp "$HERE/guest/init" "$R/init"
    chmod 755 "$R/init" "$R/bin/busybox" "$R/sbin/guestd"

    mkdir -p "$W/out"
    cp "$vmlinuz" "$W/out/vmlinuz"
    (cd "$R" && find . -print0 | LC_ALL=C sort -z |
        cpio --null -o -H newc -R 0:0 --quiet) | gzip -9n >"$W/out/initrd.img"
    cat >"$W/out/guest.env" <<EOF
GUEST_KEY='$KEY'
GUEST_KERNEL_PKG='$KDEP'
GUEST_KERNEL_PKG_VERSION='$KVER'
GUEST_KERNEL_RELEASE='$uname_r'
GUEST_BUSYBOX_VERSION='$BBVER'
GUEST_MODULES='${order[*]}'
EOF
    rm -rf "$BUILT"
    mv "$W/out" "$BUILT"
    rm -rf "$W"
    trap - EXIT

    # Prune: the 3 newest guests, the current apt answer, the current debs.
    # shellcheck disable=SC2012  # names are ours: guest-<hex>
    ls -dt "$CACHE"/guest-* | tail -n +4 | while read -r old; do
        rm -rf "$old"
    done
    for f in "$CACHE"/resolved-* "$CACHE"/debs/*.deb; do
        [[ -e $f && $f != "$RESOLVED" && $f != "$KDEB" && $f != "$BBDEB" ]] &&
            rm -f "$f"
    done
    t1=${EPOCHREALTIME/./}
    log "built in $(((t1 - t0) / 1000)) ms: modules ${order[*]}"
fi

for f in vmlinuz initrd.img guest.env; do
    cp -f "$BUILT/$f" "$OUT/$f.tmp"
    mv -f "$OUT/$f.tmp" "$OUT/$f"
done
log "guest $KEY in $OUT ($(du -k "$OUT/vmlinuz" | cut -f1) KiB kernel," \
    "$(du -k "$OUT/initrd.img" | cut -f1) KiB initrd)"
