#!/usr/bin/env bash
# make screenshots: pictures of the real app for docs/screenshots/ — unlock, list,
# detail, capture, conflict, device, sync (PNG, 1280x800).
#
# The window opens at 1280x800, a 10" tablet in landscape.
#
# Builds a demo environment as `make demo` does (scripts/demo.sh), in a temporary
# directory of its own: the reference portal (portald) on loopback with seeded cases,
# this device enrolled (key in the in-process TPM simulator), synced, and one case
# changed on both sides so that it is in conflict. Then it starts the app on a virtual
# display (Xvfb) of its own, drives it with xdotool as a user would (PIN, search,
# open a case, resolve, new application, device, sync now) and takes each picture
# of the window with ImageMagick's `import`.
#
# A step whose screen does not appear is reported and skipped, so the script keeps
# working while screens change; look at the pictures afterwards.
#
# Needs: bin/fieldoffice and bin/portald (make build), Xvfb, xdotool, ImageMagick
# (import, convert).
# Env: SCREENSHOTS_DIR (default docs/screenshots), KEEP=1 keeps the work directory,
# FIELDOFFICE_BIN and PORTALD_BIN other binaries.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${FIELDOFFICE_BIN:-$PWD/bin/fieldoffice}
PORTALD=${PORTALD_BIN:-$PWD/bin/portald}
OUT=${SCREENSHOTS_DIR:-$PWD/docs/screenshots}
USER_NAME=demo
PIN=123456

for tool in Xvfb xdotool import convert; do
  command -v "$tool" >/dev/null || { echo "screenshots: $tool is needed (apt-get install xvfb xdotool imagemagick)" >&2; exit 1; }
done
for b in "$BIN" "$PORTALD"; do
  [ -x "$b" ] || { echo "screenshots: $b is missing: run make build" >&2; exit 1; }
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/fieldoffice-shots.XXXXXX")
DATA=$WORK/data
PORTAL=$WORK/portal
pids=()
cleanup() {
  local p
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    p=${pids[i]}
    kill "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
  if [ "${KEEP:-}" = 1 ]; then echo "screenshots: work directory kept: $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT INT TERM
say() { echo "screenshots: $*"; }
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# --- A virtual display of our own -------------------------------------------------
n=120
while [ -e "/tmp/.X11-unix/X$n" ] || [ -e "/tmp/.X$n-lock" ]; do n=$((n + 1)); done
export DISPLAY=:$n
# Taller than the 1280x800 of a 10" tablet, so that a window that grows past 800 px is
# still seen whole (and reported); the pictures are of the window.
Xvfb "$DISPLAY" -screen 0 1280x1024x24 -nolisten tcp >"$WORK/xvfb.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do [ -e "/tmp/.X11-unix/X$n" ] && break; sleep 0.05; done
say "Xvfb on $DISPLAY"

# --- The demo environment (as scripts/demo.sh) ------------------------------------
export HOME=$WORK/home LANG=C.UTF-8 LC_ALL=C.UTF-8
export FIELDOFFICE_DATA=$DATA FIELDOFFICE_TPM="sim:$WORK/sim.seed" FIELDOFFICE_CONFIG=$WORK/no-config.toml
mkdir -p "$HOME"
$PORTALD init --dir "$PORTAL" --hosts 127.0.0.1,localhost >/dev/null
$PORTALD policy set --dir "$PORTAL" allow_software_keys=true >/dev/null
$PORTALD seed --dir "$PORTAL" --cases "${DEMO_CASES:-500}" >/dev/null
pport=8600
while ! port_free $pport; do pport=$((pport + 1)); done
$PORTALD serve --dir "$PORTAL" --listen "127.0.0.1:$pport" >"$WORK/portald.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do port_free $pport || break; sleep 0.1; done
say "portald on https://127.0.0.1:$pport with ${DEMO_CASES:-500} cases"

token=$($PORTALD token create --dir "$PORTAL" --office "Bürgerbüro Mitte (Demo)" --url "https://127.0.0.1:$pport" | grep -m1 -o 'FO1\.[A-Za-z0-9_-]*')
FIELDOFFICE_NEW_PIN=$PIN $BIN enroll --token "$token" --user "$USER_NAME" --name "tablet-12" >/dev/null 2>&1
export FIELDOFFICE_PIN=$PIN FIELDOFFICE_USER=$USER_NAME
cid=$($BIN case new --type personalausweis --set familienname=Müller --set vornamen=Heinz \
  --set geburtsdatum=07.03.1941 --set anschrift.strasse="Am Stadtpark" --set anschrift.hausnummer=4 \
  --set anschrift.plz=06108 --set anschrift.ort="Halle (Saale)" 2>/dev/null | tail -1)
$BIN sync >/dev/null 2>&1
# The same field changed here and in the portal: the next sync reports a conflict.
$BIN case set "$cid" vornamen=Heinz-Otto >/dev/null 2>&1
who=Heinrich-Wilhelm # the portal's value, shown in the list until the conflict is resolved
$PORTALD case set --dir "$PORTAL" "$cid" vornamen=$who >/dev/null
$BIN sync >/dev/null 2>&1 || true
unset FIELDOFFICE_PIN FIELDOFFICE_USER
say "device enrolled and synced; the case of $who Müller is in conflict"

# --- The app ----------------------------------------------------------------------
# The window fills the virtual screen (the size the app remembers, in its preferences).
prefs=$HOME/.config/fyne/de.fieldoffice.client
mkdir -p "$prefs"
echo '{"window_width":1280,"window_height":800}' >"$prefs/preferences.json"
"$BIN" >"$WORK/app.log" 2>&1 &
pids+=($!)
win=$(timeout 30 xdotool search --sync --onlyvisible --name '^FieldOffice' | head -1) || { say "the app window did not appear:"; tail -20 "$WORK/app.log" >&2; exit 1; }
xdotool windowmove "$win" 0 0 windowsize "$win" 1280 800
xdotool windowfocus --sync "$win"
mkdir -p "$OUT"

# title RE [SECONDS]: waits until the window title matches the extended regex RE.
title() {
  local t
  for _ in $(seq $((${2:-15} * 10))); do
    t=$(xdotool getwindowname "$win" 2>/dev/null || true)
    if [[ $t =~ $1 ]]; then return 0; fi
    sleep 0.1
  done
  say "WARNING: no screen titled /$1/ (title: ${t:-none})"
  return 1
}
# shot NAME [DELAY]: a picture of the window (its area of the screen) as NAME.png.
shot() {
  local w h
  sleep "${2:-0.6}"
  eval "$(xdotool getwindowgeometry --shell "$win" | grep -E '^(WIDTH|HEIGHT)=')"
  w=$WIDTH h=$HEIGHT
  import -window root -crop "${w}x${h}+0+0" +repage "$OUT/$1.png"
  if [ "$h" -gt 800 ]; then
    say "wrote $OUT/$1.png (${w}x${h}: WARNING, the window grew past the 800 px of a 10\" tablet)"
  else
    say "wrote $OUT/$1.png (${w}x${h})"
  fi
}
keys() { xdotool key --delay 80 "$@"; }
typed() { xdotool type --delay 40 "$1"; }
# clickat X Y: a click at window position X,Y (the pointer then leaves the window
# alone, so no hover effect shows in the picture).
clickat() { xdotool mousemove --window "$win" "$1" "$2" click 1 mousemove 1279 799; }

# dangerclick: clicks the first button in the danger colour (e.g. "Konflikte lösen"),
# found in a picture of the screen: the colour's largest solid area.
dangerclick() {
  local geo w h x y
  import -window root "$WORK/find.png"
  geo=$(convert "$WORK/find.png" -fill black +opaque "srgb(255,123,114)" -fill white -opaque "srgb(255,123,114)" \
    -morphology Erode Rectangle:30x10 -trim -format '%w %h %X %Y' info: 2>/dev/null) || return 1
  read -r w h x y <<<"$geo"
  [ "${w:-0}" -gt 1 ] || return 1
  clickat $((x + w / 2)) $((y + h / 2))
}

xdotool mousemove 1279 799
title 'Entsperren' 30
typed "${PIN:0:3}"
shot unlock
typed "${PIN:3}"
keys Return
if title 'Vorgänge' 20; then
  sleep 2 # the sync after unlock
  shot list
fi

# A new application: Ctrl+N, the first service, the address of the new flat.
keys ctrl+n
if title 'Neuer Antrag' 10; then
  sleep 0.5
  keys space
  sleep 1
  # (xdotool types no umlauts into an X server without a matching keymap)
  for v in Lindenallee 12 06108 "Halle (Saale)"; do
    typed "$v"
    keys Tab
  done
  shot capture
fi

# The device screen, then a sync in progress under it: more cases in the portal,
# then "Jetzt synchronisieren" (Ctrl+R); the sync bar shows the phase and progress.
keys ctrl+d
if title 'Gerät' 10; then
  shot device
  $PORTALD seed --dir "$PORTAL" --cases 3000 >/dev/null
  keys ctrl+r
  shot sync 0.4
  sleep 8 # let it finish
fi

# The case in conflict: search its name, ↓ to the list, Enter opens; then the
# conflict dialog (its button is found by colour). Last: the dialog stays open.
keys ctrl+f ctrl+a
typed "$who"
sleep 1
keys Down Return
if title '– Vorgang' 10; then
  shot detail
  if dangerclick; then shot conflict 1; else say "WARNING: no \"Konflikte lösen\" button found"; fi
fi
say "done: $(cd "$OUT" && ls | tr '\n' ' ')"
