#!/usr/bin/env bash
# Release artefacts into dist/: `make package` and `make package-check`. docs/ADMIN.md,
# section "Packages", is the admin's view of what comes out.
#
#   scripts/package.sh          build dist/:
#     fieldoffice-V+B-linux-ARCH.tar.xz        fyne package: bin/fieldoffice, .desktop file, icon, Makefile
#     fieldoffice-V+B-windows-amd64.exe        the app (GUI subsystem: no console window)
#     fieldoffice-cli-V+B-windows-amd64.exe    the same program, console subsystem: for the admin
#                                              commands in cmd/PowerShell, scripts and MDMs
#     SHA256SUMS
#   scripts/package.sh --check  the same, then check the artefacts: install the Linux archive into a
#                               temp prefix and run `fieldoffice version` from there; check the .exe
#                               files (subsystem, version resource, DLLs, build tags) and their
#                               signatures. Without SIGN_CERT it signs with a throw-away test
#                               certificate (scripts/testcert.sh) when osslsigncode is installed.
#
# V and B are Version and Build from FyneApp.toml; `fieldoffice version` prints "fieldoffice V+B".
# Release builds always have -tags fieldoffice_nosim (no in-process TPM simulator, no libcrypto),
# -trimpath, -s -w and Fyne's release mode; the build runs on a snapshot of the working tree (the
# tracked and untracked, not ignored, files) in a temp directory, so the files `fyne` and this
# script generate never appear in the repository and FyneApp.toml is not changed.
#
# Environment (make variables work too: make package SIGN_CERT=... SIGN_PASS=...):
#   SIGN_CERT           code-signing certificate: .pfx/.p12 (certificate, key, chain), or PEM
#                       certificate(s), leaf first, with SIGN_KEY
#   SIGN_KEY            the private key (PEM or DER) when SIGN_CERT is not PKCS#12
#   SIGN_PASS           password of the .pfx or of the key; SIGN_PASS_FILE: read it from a file
#   SIGN_CA             PEM trust anchors: the signatures must then verify completely against them
#   SIGN_TIMESTAMP_URL  RFC 3161 time-stamp server; without one a signature stops verifying on
#                       Windows once the certificate has expired
#   SIGN_REQUIRED=1     fail rather than leave the .exe files unsigned when SIGN_CERT is not set
#   PACKAGE_TARGETS     "linux windows" (default), or one of them
#   DIST                output directory (default: dist)
#   WINDOWS_CC          C cross-compiler for Windows (default: x86_64-w64-mingw32-gcc)
#   GO                  the go command (default: go)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

CHECK=0
case "${1:-}" in
"") ;;
--check) CHECK=1 ;;
*)
  echo "usage: scripts/package.sh [--check]" >&2
  exit 2
  ;;
esac

GO=${GO:-go}
DIST=${DIST:-$ROOT/dist}
TARGETS=${PACKAGE_TARGETS:-linux windows}
WINDOWS_CC=${WINDOWS_CC:-x86_64-w64-mingw32-gcc}
TAGS=fieldoffice_nosim,release

say() { printf 'package: %s\n' "$*" >&2; }
die() {
  printf 'package: %s\n' "$*" >&2
  exit 1
}
need() { command -v "$1" >/dev/null || die "$1 not found: $2"; }
want() { [[ " $TARGETS " == *" $1 "* ]]; }

# --- metadata from FyneApp.toml (the same sed as the Makefile's VERSION and BUILD) ---
toml() { sed -n "s/^$1 *= *\"\{0,1\}\([^\"]*\)\"\{0,1\} *\$/\1/p" FyneApp.toml | head -n1; }
VERSION=$(toml Version)
BUILD=$(toml Build)
NAME=$(toml Name)
APPID=$(toml ID)
ICON=$(toml Icon)
WEBSITE=$(toml Website)
[[ $VERSION =~ ^[0-9]+(\.[0-9]+){0,2}$ ]] || die "FyneApp.toml: Version \"$VERSION\" is not x, x.y or x.y.z"
[[ $BUILD =~ ^[0-9]+$ ]] || die "FyneApp.toml: Build \"$BUILD\" is not a number"
[[ $NAME =~ ^[A-Za-z0-9._\ -]+$ && $APPID =~ ^[A-Za-z0-9._-]+$ ]] || die "FyneApp.toml: Name/ID missing or unusual"
[[ $ICON == *.png && -f $ICON && $ICON != /* && $ICON != *..* ]] || die "FyneApp.toml: Icon \"$ICON\" is not a PNG inside the repository"
FULLVER=$VERSION+$BUILD
LDFLAGS="-s -w -X fieldoffice/cli.Version=$FULLVER"

# --- tools ---
need "$GO" "Go 1.26 is needed: https://go.dev/dl/"
need tar "apt-get install tar"
need xz "apt-get install xz-utils"
need sha256sum "apt-get install coreutils"
if want linux; then
  need gcc "apt-get install gcc"
  need readelf "apt-get install binutils"
fi
if want windows; then
  need "$WINDOWS_CC" "apt-get install gcc-mingw-w64-x86-64"
  need x86_64-w64-mingw32-objdump "apt-get install binutils-mingw-w64-x86-64"
  need strings "apt-get install binutils"
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/fieldoffice-package.XXXXXX")
cleanup() { rm -rf "$WORK"; }
trap cleanup EXIT

# --- signing set-up ---
if [[ -z ${SIGN_CERT:-} && $CHECK == 1 ]] && want windows && command -v osslsigncode >/dev/null; then
  say "no SIGN_CERT: signing with a throw-away test certificate (scripts/testcert.sh)"
  eval "$(scripts/testcert.sh "$WORK/testcert")"
  export SIGN_CERT SIGN_PASS_FILE SIGN_CA
  unset SIGN_KEY SIGN_PASS
fi
if want windows && [[ -n ${SIGN_CERT:-} ]]; then
  need osslsigncode "apt-get install osslsigncode"
  need openssl "apt-get install openssl"
  [[ -f $SIGN_CERT ]] || die "SIGN_CERT $SIGN_CERT: no such file"
  PASSFILE=
  if [[ -n ${SIGN_PASS_FILE:-} ]]; then
    PASSFILE=$SIGN_PASS_FILE
  elif [[ -n ${SIGN_PASS:-} ]]; then # a file, not -pass: the password stays out of `ps`
    PASSFILE=$WORK/secret/pass
    (umask 077 && mkdir -p "$WORK/secret" && printf '%s' "$SIGN_PASS" >"$PASSFILE")
  fi
  SIGN_ARGS=(-h sha256 -n "$NAME" ${WEBSITE:+-i "$WEBSITE"})
  case "${SIGN_CERT,,}" in
  *.pfx | *.p12)
    SIGN_ARGS+=(-pkcs12 "$SIGN_CERT")
    # The leaf certificate, for the signer check below.
    passin=pass:
    [[ -z $PASSFILE ]] || passin=file:$PASSFILE
    openssl pkcs12 -in "$SIGN_CERT" -nokeys -clcerts -passin "$passin" -passout pass: 2>/dev/null </dev/null |
      openssl x509 -outform DER >"$WORK/leaf.der" 2>/dev/null ||
      openssl pkcs12 -legacy -in "$SIGN_CERT" -nokeys -clcerts -passin "$passin" -passout pass: 2>/dev/null </dev/null |
      openssl x509 -outform DER >"$WORK/leaf.der" 2>/dev/null ||
      die "SIGN_CERT $SIGN_CERT: cannot read the certificate (wrong SIGN_PASS?)"
    ;;
  *)
    [[ -n ${SIGN_KEY:-} && -f ${SIGN_KEY:-} ]] || die "SIGN_CERT is not a .pfx/.p12: set SIGN_KEY to the private key file"
    SIGN_ARGS+=(-certs "$SIGN_CERT" -key "$SIGN_KEY")
    openssl x509 -in "$SIGN_CERT" -outform DER >"$WORK/leaf.der" 2>/dev/null ||
      openssl x509 -inform DER -in "$SIGN_CERT" -outform DER >"$WORK/leaf.der" ||
      die "SIGN_CERT $SIGN_CERT: not a PEM or DER certificate"
    ;;
  esac
  [[ -n $PASSFILE ]] && SIGN_ARGS+=(-readpass "$PASSFILE")
  [[ -n ${SIGN_TIMESTAMP_URL:-} ]] && SIGN_ARGS+=(-ts "$SIGN_TIMESTAMP_URL")
  LEAF_SHA256=$(sha256sum "$WORK/leaf.der" | cut -d' ' -f1)
  [[ -z ${SIGN_CA:-} || -f $SIGN_CA ]] || die "SIGN_CA $SIGN_CA: no such file"
elif want windows && [[ ${SIGN_REQUIRED:-0} == 1 ]]; then
  die "SIGN_REQUIRED=1 but no SIGN_CERT given"
fi

# --- snapshot of the working tree ---
SRC=$WORK/src
mkdir -p "$SRC"
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  git ls-files -z -c -o --exclude-standard |
    while IFS= read -r -d '' f; do [[ -f $f ]] && printf '%s\0' "$f"; done |
    tar --null -T - -cf - | tar -xf - -C "$SRC"
  if [[ -n $(git status --porcelain --untracked-files=no 2>/dev/null) ]]; then
    say "note: the working tree has uncommitted changes; the packages contain them"
  fi
else
  tar --exclude=./.git --exclude=./dist --exclude=./bin --exclude=./.demo --exclude=./.make --exclude='*.test' -cf - . |
    tar -xf - -C "$SRC"
fi
# What `fyne build/package` would inject: the app's metadata, so the window and taskbar show
# the icon and fyne.CurrentApp().Metadata() has name, version and build.
cat >"$SRC/zz_package_metadata.go" <<EOF
// Code generated by scripts/package.sh; DO NOT EDIT. Only in the packaging snapshot.

package main

import (
	_ "embed"

	"fyne.io/fyne/v2"
	fyneapp "fyne.io/fyne/v2/app"
)

//go:embed $ICON
var packageIcon []byte

func init() {
	fyneapp.SetMetadata(fyne.AppMetadata{
		ID:      "$APPID",
		Name:    "$NAME",
		Version: "$VERSION",
		Build:   $BUILD,
		Icon:    fyne.NewStaticResource("$(basename "$ICON")", packageIcon),
		Release: true,
	})
}
EOF

gobuild() { # OUT GOOS GOARCH EXTRA-LDFLAGS [ENV...]
  local out=$1 goos=$2 goarch=$3 ldx=$4
  shift 4
  say "go build GOOS=$goos GOARCH=$goarch -tags $TAGS -ldflags \"$LDFLAGS${ldx:+ $ldx}\" -o $(basename "$out")"
  (cd "$SRC" && env "$@" CGO_ENABLED=1 GOOS="$goos" GOARCH="$goarch" \
    "$GO" build -trimpath -buildvcs=false -tags "$TAGS" -ldflags "$LDFLAGS${ldx:+ $ldx}" -o "$out" .)
}

# The release build settings as `go version -m` reads them back from a binary.
check_buildinfo() { # FILE
  local info
  info=$("$GO" version -m "$1")
  grep -Eq $'^\tbuild\t-tags=([^ ]*,)?fieldoffice_nosim(,|$)' <<<"$info" ||
    die "$(basename "$1"): not built with -tags fieldoffice_nosim"
  grep -q $'^\tbuild\t-trimpath=true' <<<"$info" || die "$(basename "$1"): not built with -trimpath"
}

OUT=$WORK/out # into dist/ only when everything has been built, signed and verified
mkdir -p "$OUT"
ARTEFACTS=()

# --- Linux: the binary, then fyne package around it ---
if want linux; then
  arch=$("$GO" env GOHOSTARCH)
  gobuild "$SRC/fieldoffice" linux "$arch" ""
  check_buildinfo "$SRC/fieldoffice"
  if readelf -d "$SRC/fieldoffice" | grep -Ei 'NEEDED.*(libcrypto|libssl)'; then
    die "the Linux binary links OpenSSL: the TPM simulator is in it"
  fi
  say "go tool fyne package -os linux --executable fieldoffice (desktop file and icon from FyneApp.toml)"
  (cd "$SRC" && "$GO" tool fyne package -os linux --release --executable "$SRC/fieldoffice") >"$WORK/fyne.log" 2>&1 ||
    {
      cat "$WORK/fyne.log" >&2
      die "fyne package failed"
    }
  shopt -s nullglob
  archives=("$SRC"/*.tar.xz)
  shopt -u nullglob
  [[ ${#archives[@]} == 1 ]] || die "fyne package: expected one .tar.xz, got ${#archives[@]}"
  listing=$(tar -tJf "${archives[0]}")
  for want_path in "bin/fieldoffice" "share/applications/$APPID.desktop" "share/pixmaps/$APPID.png" "Makefile"; do
    grep -Eq "(^|/)${want_path//./\\.}\$" <<<"$listing" || die "fyne package: $want_path missing from the archive"
  done
  out=fieldoffice-$FULLVER-linux-$arch.tar.xz
  mv "${archives[0]}" "$OUT/$out"
  ARTEFACTS+=("$out")
fi

# --- Windows: GUI and console .exe from the same main, each with its own resources ---
sign_exe() { # FILE
  local f=$1
  say "osslsigncode sign $(basename "$f")"
  osslsigncode sign "${SIGN_ARGS[@]}" -in "$f" -out "$f.signed" >"$WORK/sign.log" 2>&1 || {
    cat "$WORK/sign.log" >&2
    die "signing $(basename "$f") failed"
  }
  mv "$f.signed" "$f"
}

# What is checked (docs/ADMIN.md says the same), all with osslsigncode verify:
#  1. the file carries exactly one Authenticode signature;
#  2. the file digest stored in the signature equals the digest computed over the file now
#     (nothing changed after signing);
#  3. the signer's certificate is SIGN_CERT's (-require-leaf-hash sha256:...);
#  4. the PKCS#7 signature verifies, with a chain to a trusted root: SIGN_CA when set (then it
#     must), else this machine's roots; when that fails (a private or self-signed root), against
#     the chain the signature carries: the signature is then valid but its root is trusted here
#     by nothing, which is reported. When even that is impossible (the signature carries no
#     root), only 1-3 hold, and that is reported too.
verify_exe() { # FILE
  local f=$1 name out rc=0 cur calc n
  name=$(basename "$f")
  osslverify() { # [-CAfile FILE]
    rc=0
    out=$(osslsigncode verify -in "$f" -require-leaf-hash "sha256:$LEAF_SHA256" "$@" 2>&1) || rc=$?
    if [[ $CHECK == 1 ]]; then
      say "osslsigncode verify -in $name -require-leaf-hash sha256:$LEAF_SHA256 $* (exit $rc):"
      sed 's/^/    /' <<<"$out" >&2
    fi
  }
  verified() { [[ $rc == 0 ]] && grep -q '^Signature verification: ok' <<<"$out"; }
  osslverify ${SIGN_CA:+-CAfile "$SIGN_CA"}
  n=$(grep -c '^Current message digest' <<<"$out" || true)
  [[ $n == 1 ]] || die "$name: $n signatures, want 1: osslsigncode verify said: $out"
  cur=$(sed -n 's/^Current message digest *: *\([0-9A-Fa-f]*\).*$/\1/p' <<<"$out")
  calc=$(sed -n 's/^Calculated message digest *: *\([0-9A-Fa-f]*\).*$/\1/p' <<<"$out")
  [[ -n $cur && ${cur^^} == "${calc^^}" ]] || die "$name: the file digest ($calc) is not the signed one ($cur)"
  grep -q '^Leaf hash match: ok' <<<"$out" || die "$name: not signed with SIGN_CERT's certificate: osslsigncode verify said: $out"
  if verified; then
    local anchor="this machine's roots"
    [[ -z ${SIGN_CA:-} ]] || anchor="SIGN_CA ($SIGN_CA)"
    say "$name: signature verified: one signature, file digest $cur matches, signer is SIGN_CERT, chain to $anchor"
    return
  fi
  [[ -z ${SIGN_CA:-} ]] || die "$name: signature does not verify against SIGN_CA $SIGN_CA: osslsigncode verify said: $out"
  rm -f "$WORK/sig.p7"
  osslsigncode extract-signature -pem -in "$f" -out "$WORK/sig.p7" >/dev/null 2>&1 &&
    openssl pkcs7 -in "$WORK/sig.p7" -print_certs -out "$WORK/embedded.pem" 2>/dev/null ||
    die "$name: cannot extract the certificates from the signature"
  rm -f "$WORK/sig.p7"
  osslverify -CAfile "$WORK/embedded.pem"
  if verified; then
    say "$name: signature verified: one signature, file digest $cur matches, signer is SIGN_CERT, chain to the root it carries - which this machine does NOT trust (set SIGN_CA to require a root)"
  else
    say "WARNING: $name: one signature, file digest $cur matches, signer is SIGN_CERT; the signature itself could not be verified (no trusted root; set SIGN_CA)"
  fi
}

check_exe() { # FILE SUBSYSTEM(2 = GUI, 3 = console) ORIGINAL-FILENAME
  local f=$1 sub=$2 orig=$3 pe dlls
  pe=$(x86_64-w64-mingw32-objdump -p "$f")
  grep -Eq "^Subsystem[[:space:]]+0*$sub[[:space:]]" <<<"$pe" || die "$(basename "$f"): PE subsystem is not $sub"
  dlls=$(sed -n 's/^[[:space:]]*DLL Name: //p' <<<"$pe" | sort -fu | tr '\n' ' ')
  # Only Windows' own DLLs: mingw's (libwinpthread, libgcc) or OpenSSL's would have to be shipped.
  if grep -Eqi '(^| )lib[^ ]*\.dll' <<<"$dlls"; then die "$(basename "$f") needs non-system DLLs: $dlls"; fi
  check_buildinfo "$f"
  strings -el "$f" | grep -qxF "$FULLVER" || die "$(basename "$f"): no ProductVersion $FULLVER in the version resource"
  strings -el "$f" | grep -qxF "$orig" || die "$(basename "$f"): no OriginalFilename $orig in the version resource"
  say "$(basename "$f"): subsystem $sub, version resource $FULLVER, DLLs: $dlls"
}

if want windows; then
  (cd "$ROOT" && "$GO" build -o "$WORK/winres" ./scripts/winres)
  syso=$SRC/rsrc_windows_amd64.syso # only linked into windows/amd64 builds
  for variant in gui cli; do
    if [[ $variant == gui ]]; then
      file=fieldoffice.exe desc=$NAME sub=2 ldx="-H windowsgui"
      out=fieldoffice-$FULLVER-windows-amd64.exe
    else
      file=fieldoffice-cli.exe desc="$NAME (Kommandozeile)" sub=3 ldx="" # console subsystem
      out=fieldoffice-cli-$FULLVER-windows-amd64.exe
    fi
    "$WORK/winres" -name "$NAME" -id "$APPID" -version "$VERSION" -build "$BUILD" -icon "$ICON" \
      -file "$file" -description "$desc" -comments "$WEBSITE" -arch amd64 -out "$syso"
    gobuild "$WORK/$file" windows amd64 "$ldx" CC="$WINDOWS_CC"
    check_exe "$WORK/$file" "$sub" "$file"
    if [[ -n ${SIGN_CERT:-} ]]; then
      sign_exe "$WORK/$file"
    else
      say "$file: NOT signed (set SIGN_CERT to sign)"
    fi
    chmod 0644 "$WORK/$file"
    mv "$WORK/$file" "$OUT/$out"
    ARTEFACTS+=("$out")
    [[ -z ${SIGN_CERT:-} ]] || verify_exe "$OUT/$out"
  done
  rm -f "$syso"
fi

# --- dist/: this run's artefacts and their checksums, nothing older ---
(cd "$OUT" && sha256sum -- "${ARTEFACTS[@]}" >SHA256SUMS)
mkdir -p "$DIST"
rm -f -- "$DIST"/fieldoffice-*.tar.xz "$DIST"/fieldoffice-*.exe "$DIST/SHA256SUMS"
mv -- "$OUT"/* "$DIST"/
(cd "$DIST" && sha256sum -c --quiet SHA256SUMS)
say "artefacts in $DIST:"
(cd "$DIST" && ls -l -- "${ARTEFACTS[@]}" SHA256SUMS >&2)

[[ $CHECK == 1 ]] || exit 0

# --- --check: install the Linux archive into a temp prefix and run it ---
if want linux; then
  arch=$("$GO" env GOHOSTARCH)
  x=$WORK/check
  mkdir -p "$x/unpacked" "$x/prefix"
  tar -xJf "$DIST/fieldoffice-$FULLVER-linux-$arch.tar.xz" -C "$x/unpacked"
  make -s -C "$x/unpacked" install DESTDIR="" PREFIX="$x/prefix" >&2
  for f in bin/fieldoffice "share/applications/$APPID.desktop" "share/pixmaps/$APPID.png"; do
    [[ -f $x/prefix/$f ]] || die "check: $f not installed"
  done
  [[ -x $x/prefix/bin/fieldoffice ]] || die "check: bin/fieldoffice not executable"
  desktop=$x/prefix/share/applications/$APPID.desktop
  grep -qx "Exec=fieldoffice" "$desktop" && grep -qx "Icon=$APPID" "$desktop" && grep -qx "Name=$NAME" "$desktop" ||
    die "check: unexpected desktop file: $(cat "$desktop")"
  if command -v desktop-file-validate >/dev/null; then desktop-file-validate "$desktop"; fi
  got=$("$x/prefix/bin/fieldoffice" version)
  [[ $got == "fieldoffice $FULLVER" ]] || die "check: installed fieldoffice version printed \"$got\", want \"fieldoffice $FULLVER\""
  say "check: installed into a temp prefix; \`fieldoffice version\` prints \"$got\""
  # The simulator is not in a release binary: a sim: TPM is refused.
  if simout=$(FIELDOFFICE_LANG=en FIELDOFFICE_PIN=123456 FIELDOFFICE_NEW_PIN=123456 "$x/prefix/bin/fieldoffice" init --data "$x/data" --tpm "sim:$x/seed" --user check </dev/null 2>&1); then
    die "check: a release binary accepted the in-process simulator"
  fi
  grep -q "not built into this binary" <<<"$simout" || die "check: sim: refused for another reason: $simout"
  say "check: the in-process TPM simulator is not in the release binary"
fi
if want windows; then
  if [[ -z ${SIGN_CERT:-} ]]; then
    say "check: osslsigncode not installed: signatures not checked"
  fi
fi
say "check: ok"
