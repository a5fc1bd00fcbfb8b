# FieldOffice — the README names the targets: deps, demo, run, test, bench, vet.
SHELL := /bin/bash
GO ?= go
# Fyne complains about the C locale; tests and CI run in a UTF-8 locale.
export LANG ?= C.UTF-8
export LC_ALL ?= C.UTF-8

# Debian/Ubuntu packages a fresh machine needs: cgo + Fyne (GL, X11), OpenSSL's
# libcrypto for the in-process TPM simulator, swtpm for the software-TPM tests and the
# demo, Xvfb (with xdotool and imagemagick) so the demo, screenshots and measurements run
# without a desktop; mingw-w64, osslsigncode, xz-utils and openssl for `make package`.
APT_PKGS := gcc pkg-config libgl1-mesa-dev xorg-dev libssl-dev swtpm swtpm-tools xvfb xdotool imagemagick gcc-mingw-w64-x86-64 osslsigncode xz-utils openssl
DEPS_STAMP := .make/deps.stamp

.PHONY: deps build run demo test test-short vet bench fuzz clean package package-check measure screenshots

deps: $(DEPS_STAMP)

$(DEPS_STAMP): Makefile
	@missing=$$(for p in $(APT_PKGS); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  if ! command -v apt-get >/dev/null; then echo "Install these (Debian names): $$missing" >&2; exit 1; fi; \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "Installing: $$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	  else \
	    echo "Missing packages. Run:" >&2; echo "  sudo apt-get install -y $$missing" >&2; exit 1; \
	  fi; \
	fi
	@command -v $(GO) >/dev/null || { echo "Go 1.26 is needed: https://go.dev/dl/" >&2; exit 1; }
	@mkdir -p $(dir $@) && touch $@

VERSION := $(shell sed -n 's/^Version *= *"\(.*\)"/\1/p' FyneApp.toml)
BUILD := $(shell sed -n 's/^Build *= *\([0-9]*\)/\1/p' FyneApp.toml)
LDFLAGS := -X fieldoffice/cli.Version=$(VERSION)+$(BUILD)

build: deps
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/fieldoffice .
	$(GO) build -o bin/portald ./cmd/portald

run: build
	./bin/fieldoffice

demo: build
	./scripts/demo.sh

vet: deps
	$(GO) vet ./...
	GOOS=windows $(GO) vet ./platform/... ./storage/... ./cases/... ./cli/...
	GOOS=darwin $(GO) vet ./platform/...
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted" >&2; exit 1; fi

test: deps vet
	$(GO) test -tags ci -count=1 -timeout 30m ./...

test-short: deps
	$(GO) test -short ./...

# Writes and reads 100,000 records of 4 KiB through the vault and plain bbolt in one
# run and prints the ratios; counts TPM commands per unlock. Figures: docs/BENCHMARKS.md.
# The vault against plain bbolt (the floor) in the same run; BenchmarkRepo builds a
# store of 100,000 demo cases (about 20 s) per run. Figures: docs/BENCHMARKS.md.
bench: deps
	@mkdir -p .make
	$(GO) test -run '^$$' -bench 'BenchmarkVault|BenchmarkUnlock' -benchtime 1x -count 5 ./storage/ | tee .make/bench.txt
	$(GO) test -run '^$$' -bench 'BenchmarkSeal4K' -count 5 ./storage/ | tee -a .make/bench.txt
	$(GO) test -run '^$$' -bench 'BenchmarkRepo' -benchtime 1x -count 3 -timeout 30m ./storage/ | tee -a .make/bench.txt
	$(GO) test -run '^$$' -bench 'BenchmarkBlob' -benchtime 1x -count 5 ./storage/ | tee -a .make/bench.txt
	$(GO) run ./scripts/benchratio < .make/bench.txt

# FieldOffice's encrypted store against SQLCipher, same workload in one run (issue 3);
# a separate Go module (bench/) so the product's go.mod stays free of cgo SQLCipher.
.PHONY: bench-sqlcipher
bench-sqlcipher: deps
	cd bench && $(GO) run ./cmd/storecmp

clean:
	rm -rf bin dist .make .demo

# Fuzz the decoders that read untrusted bytes, FUZZTIME each (seeds in testdata/fuzz).
FUZZTIME ?= 1m
fuzz:
	$(GO) test ./storage/crypto/ -run '^$$' -fuzz '^FuzzOpenSealed$$' -fuzztime $(FUZZTIME)
	$(GO) test ./storage/crypto/ -run '^$$' -fuzz '^FuzzStreamReader$$' -fuzztime $(FUZZTIME)
	$(GO) test ./cases/ -run '^$$' -fuzz '^FuzzParseSchema$$' -fuzztime $(FUZZTIME)

# Release artefacts in dist/ (docs/ADMIN.md, "Packages"): the Linux archive (fyne package:
# binary, .desktop file, icon), the Windows app and console .exe (mingw-w64, version
# resource), signed with osslsigncode when SIGN_CERT is set, and SHA256SUMS. Version and
# build come from FyneApp.toml; release builds have -tags fieldoffice_nosim (no TPM
# simulator, no libcrypto).
#   make package SIGN_CERT=codesign.pfx SIGN_PASS_FILE=... [SIGN_TIMESTAMP_URL=...] [SIGN_CA=root.pem]
package: deps
	./scripts/package.sh

# `package`, then proves it: installs the Linux archive into a temp prefix and runs
# `fieldoffice version` from there; checks the .exe files and their signatures (made with
# a throw-away test certificate from scripts/testcert.sh unless SIGN_CERT is set).
package-check: deps
	./scripts/package.sh --check

# GUI figures of issue 5 under Xvfb: start → unlock screen, PIN → filled case list (1,000
# and 100,000 cases), RSS, CPU per scroll step; median of 5 (docs/BENCHMARKS.md). The
# first run builds the 100,000-case store (a minute or two; kept in .make/measure).
measure: build
	$(GO) run ./scripts/measure -bin bin/fieldoffice

# docs/screenshots/*.png from the real app on a demo portal (Xvfb, xdotool, ImageMagick).
screenshots: build
	./scripts/screenshots.sh
