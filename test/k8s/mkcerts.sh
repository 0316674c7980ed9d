#!/bin/bash
# mkcerts.sh DIR [IP|DNSNAME...]: makes, for tests only, a CA (ca.crt,
# ca.key) and a server certificate signed by it (server.crt, server.key) in
# DIR, for the Kubernetes API server stand-in (kube-apiserver-standin.py).
# The server certificate's subjectAltName has IP:127.0.0.1 and every
# argument (an IP address, or else a DNS name).  Keys are mode 0600.
# EC P-256 keys; needs the openssl CLI.
set -euo pipefail

if (($# < 1)) || [[ $1 == -h || $1 == --help ]]; then
    echo "usage: $0 DIR [IP|DNSNAME...]" >&2
    exit 2
fi
dir=$1
shift

sans=IP:127.0.0.1
for a in "$@"; do
    if [[ $a =~ ^[0-9.]+$ || $a == *:* ]]; then
        sans+=",IP:$a"
    else
        sans+=",DNS:$a"
    fi
done

mkdir -p "$dir"
cd "$dir"
umask 077
ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)

# quiet CMD...: runs CMD, showing its chatter only if it fails.
quiet() {
    local out
    out=$("$@" 2>&1) || { printf '%s\n' "$out" >&2; return 1; }
}

quiet openssl req -x509 "${ec[@]}" -keyout ca.key -out ca.crt -days 3650 \
    -subj "/CN=ovn-lm test CA (kube-apiserver stand-in)" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign"

quiet openssl req -new "${ec[@]}" -keyout server.key -out server.csr \
    -subj "/CN=kube-apiserver-standin"
quiet openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key \
    -set_serial "0x$(openssl rand -hex 16)" -days 825 -out server.crt \
    -extfile <(printf '%s\n' "subjectAltName=$sans" \
        "basicConstraints=critical,CA:FALSE" \
        "keyUsage=critical,digitalSignature,keyEncipherment" \
        "extendedKeyUsage=serverAuth")
rm -f server.csr
chmod 0600 ca.key server.key
chmod 0644 ca.crt server.crt
echo "$PWD: ca.crt ca.key server.crt server.key (SAN $sans)"
