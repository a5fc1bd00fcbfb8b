#!/usr/bin/env bash
# make demo: runs FieldOffice on embedded defaults: a software TPM (swtpm where
# installed, else the in-process simulator), a demo vault with seeded cases and a
# demo user, then the app. Everything lives in .demo/ and stops when the app exits.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=./bin/fieldoffice
DEMO=${FIELDOFFICE_DEMO_DIR:-$PWD/.demo}
DATA=$DEMO/data
USER_NAME=demo
PIN=123456
mkdir -p "$DEMO"
chmod 700 "$DEMO"

pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  [ ${#pids[@]} -gt 0 ] && echo "demo: stopped swtpm"
  return 0
}
trap cleanup EXIT INT TERM

if command -v swtpm >/dev/null; then
  port=${FIELDOFFICE_DEMO_TPM_PORT:-2321}
  while (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null || (exec 3<>/dev/tcp/127.0.0.1/$((port+1))) 2>/dev/null; do port=$((port+2)); done
  mkdir -p "$DEMO/swtpm"
  swtpm socket --tpm2 --tpmstate dir="$DEMO/swtpm" \
    --server type=tcp,port=$port,bindaddr=127.0.0.1 --ctrl type=tcp,port=$((port+1)),bindaddr=127.0.0.1 \
    --flags not-need-init,startup-clear >"$DEMO/swtpm.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
  TPM="mssim:127.0.0.1:$port"
  echo "demo: started swtpm (pid ${pids[0]}) on 127.0.0.1:$port, state in $DEMO/swtpm"
else
  TPM="sim:$DEMO/sim.seed"
  echo "demo: swtpm not installed; using the in-process TPM simulator ($TPM) — it protects nothing"
fi
export FIELDOFFICE_DATA=$DATA FIELDOFFICE_TPM=$TPM

if [ ! -f "$DATA/vault.db" ]; then
  echo "demo: creating the demo vault in $DATA"
  [ -f "$DEMO/recovery.key" ] || $BIN keygen-recovery --out "$DEMO/recovery.key" >/dev/null
  FIELDOFFICE_NEW_PIN=$PIN $BIN init --user "$USER_NAME" --recovery-pubkey "$DEMO/recovery.key.pub"
  export FIELDOFFICE_PIN=$PIN FIELDOFFICE_USER=$USER_NAME
  $BIN demo-data --cases "${DEMO_CASES:-500}"
  $BIN case new --type personalausweis --set familienname=Müller --set vornamen=Heinz \
    --set geburtsdatum=07.03.1941 --set anschrift.strasse="Am Stadtpark" --set anschrift.hausnummer=4 \
    --set anschrift.plz=06108 --set anschrift.ort="Halle (Saale)" >/dev/null
  unset FIELDOFFICE_PIN FIELDOFFICE_USER
fi

echo "demo: data $DATA, TPM $TPM"
echo "demo: user '$USER_NAME', PIN $PIN"
if [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ]; then
  echo "demo: no display (DISPLAY and WAYLAND_DISPLAY are unset), so the app cannot open a window." >&2
  echo "      Run it under a virtual display:  xvfb-run -s '-screen 0 1280x800x24' make demo" >&2
  echo "      The vault works headless:        FIELDOFFICE_DATA=$DATA FIELDOFFICE_TPM=$TPM $BIN status" >&2
  exit 1
fi
$BIN --data "$DATA" --tpm "$TPM"
