#!/usr/bin/env bash
# scripts/testcert.sh DIR — a throw-away code-signing PKI, so CI can prove that
# `make package` signs the Windows .exe files and that the signatures verify
# (make package-check uses it when no SIGN_CERT is given). Writes into DIR (created, 0700):
#
#   ca.pem          the test root CA: the trust anchor for `osslsigncode verify -CAfile`
#   codesign.pem    the code-signing certificate (EKU codeSigning), issued by the test root
#   codesign.key    its private key (PKCS#8, encrypted with the password)
#   codesign.pfx    certificate, key and root as PKCS#12, same password
#   password        the random password, without a newline
#
# and prints the settings for scripts/package.sh, ready for eval:
#   SIGN_CERT=DIR/codesign.pfx SIGN_PASS_FILE=DIR/password SIGN_CA=DIR/ca.pem
#
# The root's key is deleted after it has issued the one certificate. Nothing trusts this
# root: never sign anything you ship with it. Valid for DAYS days (env, default 7).
set -euo pipefail
dir=${1:?usage: scripts/testcert.sh DIR}
days=${DAYS:-7}
command -v openssl >/dev/null || { echo "testcert: openssl is needed (apt-get install openssl)" >&2; exit 1; }

umask 077
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

log=$tmp/openssl.log
trap 'echo "testcert: openssl failed:" >&2; cat "$log" >&2' ERR

TESTCERT_PASS=$(openssl rand -hex 24)
export TESTCERT_PASS
printf '%s' "$TESTCERT_PASS" >"$dir/password"

# Root CA (RSA 3072, as CA/B requires for code signing); its key lives only in $tmp.
openssl req -x509 -new -newkey rsa:3072 -nodes -sha256 -days "$days" \
  -keyout "$tmp/ca.key" -out "$dir/ca.pem" \
  -subj "/O=FieldOffice TEST/CN=FieldOffice TEST Root CA - not trusted" \
  -addext "basicConstraints=critical,CA:TRUE,pathlen:0" \
  -addext "keyUsage=critical,keyCertSign,cRLSign" \
  -addext "subjectKeyIdentifier=hash" 2>>"$log"

# Code-signing key and certificate.
openssl req -new -newkey rsa:3072 -sha256 \
  -keyout "$dir/codesign.key" -passout env:TESTCERT_PASS -out "$tmp/codesign.csr" \
  -subj "/O=FieldOffice TEST/CN=FieldOffice TEST code signing" 2>>"$log"
cat >"$tmp/ext" <<'EOF'
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=codeSigning
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid
EOF
openssl x509 -req -sha256 -days "$days" -in "$tmp/codesign.csr" \
  -CA "$dir/ca.pem" -CAkey "$tmp/ca.key" -set_serial "0x$(openssl rand -hex 16)" \
  -extfile "$tmp/ext" -out "$dir/codesign.pem" 2>>"$log"

openssl pkcs12 -export -name "FieldOffice TEST code signing" \
  -in "$dir/codesign.pem" -inkey "$dir/codesign.key" -passin env:TESTCERT_PASS \
  -certfile "$dir/ca.pem" -out "$dir/codesign.pfx" -passout env:TESTCERT_PASS

openssl verify -CAfile "$dir/ca.pem" "$dir/codesign.pem" >>"$log" 2>&1

printf 'SIGN_CERT=%q SIGN_PASS_FILE=%q SIGN_CA=%q\n' "$dir/codesign.pfx" "$dir/password" "$dir/ca.pem"
