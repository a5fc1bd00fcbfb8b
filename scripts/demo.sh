#!/usr/bin/env bash
# make demo: runs FieldOffice on embedded defaults: a local reference portal
# (portald) with ~500 seeded cases, a software TPM (swtpm where installed, else the
# in-process simulator), a device enrolled with a demo user, synced, then the app.
# Everything lives in .demo/ and stops when the app exits.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=./bin/fieldoffice
PORTALD=./bin/portald
DEMO=${FIELDOFFICE_DEMO_DIR:-$PWD/.demo}
DATA=$DEMO/data
USER_NAME=demo
PIN=123456
mkdir -p "$DEMO"
chmod 700 "$DEMO"

pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  [ ${#pids[@]} -gt 0 ] && echo "demo: stopped swtpm and portald"
  pids=() # once: an interrupt runs the INT trap and then the EXIT trap
  return 0
}
trap cleanup EXIT
trap 'cleanup; exit 130' INT
trap 'cleanup; exit 143' TERM

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

# The reference portal on loopback, with seeded cases.
PORTAL=$DEMO/portal
if [ ! -f "$PORTAL/portal.db" ]; then
  $PORTALD init --dir "$PORTAL" --hosts 127.0.0.1,localhost >/dev/null
  $PORTALD policy set --dir "$PORTAL" allow_software_keys=true >/dev/null
  $PORTALD seed --dir "$PORTAL" --cases "${DEMO_CASES:-500}" >/dev/null
  echo "demo: created the portal in $PORTAL with ${DEMO_CASES:-500} cases"
fi
# The device remembers the portal's URL, so the demo keeps its port (in $DEMO/portal.port).
if [ -f "$DEMO/portal.port" ]; then
  pport=$(cat "$DEMO/portal.port")
  if (exec 3<>/dev/tcp/127.0.0.1/$pport) 2>/dev/null; then
    echo "demo: port $pport (the demo portal's) is in use: stop what runs there, or remove $DEMO to start afresh" >&2
    exit 1
  fi
else
  pport=${FIELDOFFICE_DEMO_PORTAL_PORT:-8443}
  while (exec 3<>/dev/tcp/127.0.0.1/$pport) 2>/dev/null; do pport=$((pport+1)); done
  echo "$pport" >"$DEMO/portal.port"
fi
$PORTALD serve --dir "$PORTAL" --listen 127.0.0.1:$pport >"$DEMO/portald.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$pport) 2>/dev/null && break; sleep 0.1; done
echo "demo: started portald (pid ${pids[-1]}) on https://127.0.0.1:$pport, log $DEMO/portald.log"

if [ ! -f "$DATA/vault.db" ]; then
  echo "demo: enrolling this device as user '$USER_NAME'"
  token=$($PORTALD token create --dir "$PORTAL" --office "Bürgerbüro Mitte (Demo)" --url "https://127.0.0.1:$pport" | grep -o 'FO1\.[A-Za-z0-9_-]*' | head -1)
  FIELDOFFICE_NEW_PIN=$PIN $BIN enroll --token "$token" --user "$USER_NAME" --name "demo-$(hostname)"
  export FIELDOFFICE_PIN=$PIN FIELDOFFICE_USER=$USER_NAME
  $BIN case new --type personalausweis --set familienname=Müller --set vornamen=Heinz \
    --set geburtsdatum=07.03.1941 --set anschrift.strasse="Am Stadtpark" --set anschrift.hausnummer=4 \
    --set anschrift.plz=06108 --set anschrift.ort="Halle (Saale)" >/dev/null
  unset FIELDOFFICE_PIN FIELDOFFICE_USER
fi
FIELDOFFICE_PIN=$PIN FIELDOFFICE_USER=$USER_NAME $BIN sync || echo "demo: sync failed (see above); the app works offline anyway"

echo "demo: data $DATA, TPM $TPM"
echo "demo: user '$USER_NAME', PIN $PIN"
if [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ]; then
  echo "demo: no display (DISPLAY and WAYLAND_DISPLAY are unset), so the app cannot open a window." >&2
  echo "      Run it under a virtual display:  xvfb-run -s '-screen 0 1280x800x24' make demo" >&2
  echo "      The vault works headless:        FIELDOFFICE_DATA=$DATA FIELDOFFICE_TPM=$TPM $BIN status" >&2
  exit 1
fi
$BIN --data "$DATA" --tpm "$TPM"
