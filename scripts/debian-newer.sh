#!/bin/bash
# debian-newer.sh SUITE download PACKAGE DESTDIR
# debian-newer.sh SUITE source PACKAGE DESTDIR
#
# Fetches a package (or its source) from a newer Debian suite ("trixie",
# "sid") WITHOUT touching this machine's apt configuration: the suite's
# lists live in a private directory (/var/cache/ovn-lm/apt-SUITE, or
# $OVN_LM_APT_DIR), apt is pointed there with -o options, and nothing is
# installed -- the caller unpacks what it needs (dpkg -x) or builds from
# source.  The mirror is the one the machine's own Debian sources name.
# See ../shared/notes/debian-newer.md: never add these suites to the
# machine's sources and never upgrade its packages from them.
set -euo pipefail

suite=${1:?suite} what=${2:?download or source} pkg=${3:?package}
dest=${4:?destination directory}
case $suite in trixie|sid|unstable|forky) ;; *)
    echo "debian-newer.sh: unexpected suite '$suite'" >&2; exit 2 ;;
esac

dir=${OVN_LM_APT_DIR:-/var/cache/ovn-lm/apt-$suite}
mkdir -p "$dir/parts" "$dir/lists/partial" "$dir/cache/archives/partial" "$dest"

# The machine's mirror: the first URIs: of its deb822 sources, else the
# first deb line of sources.list.
uri=$(sed -n 's/^URIs:[[:space:]]*\([^[:space:]]*\).*/\1/p' \
          /etc/apt/sources.list.d/*.sources 2>/dev/null | grep -v security |
      head -1 || :)
if [[ -z $uri ]]; then
    uri=$(awk '$1 == "deb" && $0 !~ /security/ { print $2; exit }' \
              /etc/apt/sources.list 2>/dev/null || :)
fi
[[ -n $uri ]] || { echo "debian-newer.sh: no Debian mirror configured" >&2; exit 1; }

cat >"$dir/parts/$suite.sources" <<SRC
Types: deb deb-src
URIs: $uri
Suites: $suite
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC

A=(-o Dir::Etc::SourceList=/dev/null -o "Dir::Etc::SourceParts=$dir/parts"
   -o "Dir::State::Lists=$dir/lists" -o "Dir::Cache=$dir/cache"
   -o Dir::Etc::Preferences=/dev/null -o "Dir::Etc::PreferencesParts=$dir/parts")
# Lists older than a day are refreshed.
if [[ -z $(find "$dir/lists" -name '*Packages*' -mmin -1440 2>/dev/null | head -1) ]]; then
    apt-get "${A[@]}" update -qq
fi
cd "$dest"
case $what in
download) apt-get "${A[@]}" download "$pkg" ;;
source)   apt-get "${A[@]}" source --download-only "$pkg" ;;
*) echo "debian-newer.sh: unknown action '$what'" >&2; exit 2 ;;
esac
