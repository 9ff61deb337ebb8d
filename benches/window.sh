#!/usr/bin/env bash
# Window benchmark (issue 3): the release binary under Xvfb.
#   launch to first frame, idle CPU over 10 s, RSS, Submit -> saved status.
# Usage: benches/window.sh [SUBMITS]   (needs xvfb and xdotool; builds --release)
set -euo pipefail
cd "$(dirname "$0")/.."
submits=${1:-100}
cargo build --release --quiet
bin=target/release/digit-kiosk
work=$(mktemp -d)
display=":$((200 + $$ % 500))"
Xvfb "$display" -screen 0 1280x900x24 -nolisten tcp >/dev/null 2>&1 &
xvfb=$!
trap 'kill $kiosk $xvfb 2>/dev/null; rm -rf "$work"' EXIT
while [ ! -e "/tmp/.X11-unix/X${display#:}" ]; do sleep 0.05; done
export DISPLAY=$display XDG_CONFIG_HOME=$work/config
unset WAYLAND_DISPLAY

launches=()
for i in 1 2 3 4 5; do
  DIGIT_KIOSK_TIMINGS=1 $bin --data "$work/data$i" 2>"$work/launch$i.log" &
  pid=$!
  until grep -q "first frame" "$work/launch$i.log" 2>/dev/null; do sleep 0.02; done
  launches+=("$(grep -o 'first frame [0-9.]* ms' "$work/launch$i.log" | grep -o '[0-9.]*')")
  kill $pid; wait $pid 2>/dev/null || true
done
echo "launch to first frame (ms, 5 runs): ${launches[*]}"

DIGIT_KIOSK_TIMINGS=1 $bin --data "$work/data" 2>"$work/run.log" &
kiosk=$!
until grep -q "first frame" "$work/run.log" 2>/dev/null; do sleep 0.02; done
win=$(xdotool search --name "Digit Kiosk" | head -1)
until xdotool windowfocus --sync "$win" 2>/dev/null; do sleep 0.1; done
sleep 1
ticks() { awk '{print $14 + $15}' "/proc/$kiosk/stat"; }
t0=$(ticks); sleep 10; t1=$(ticks)
hz=$(getconf CLK_TCK)
echo "idle CPU over 10 s: $(awk -v a="$t0" -v b="$t1" -v hz="$hz" 'BEGIN { printf "%.2f%%", (b - a) / hz / 10 * 100 }')"
echo "RSS idle: $(awk '/VmRSS/ {printf "%.0f MB", $2 / 1024}' /proc/$kiosk/status)"

xdotool key 7
for i in $(seq "$submits"); do
  xdotool mousemove 300 150 mousedown 1 mousemove 250 400 mousemove 240 600 mouseup 1
  xdotool key Return
  sleep 0.05
done
sleep 1
echo "RSS after $submits submits: $(awk '/VmRSS/ {printf "%.0f MB", $2 / 1024}' /proc/$kiosk/status)"
saved=$(grep -o 'submit->saved [0-9.]*' "$work/run.log" | awk '{print $2}' | sort -n)
n=$(echo "$saved" | grep -c . || true)
[ "$n" -gt 0 ] || { echo "no submits measured"; exit 1; }
pick() { echo "$saved" | sed -n "$(( ($1 * n + 99) / 100 ))p"; }
echo "submit -> saved status (ms, n=$n): p50 $(pick 50)  p99 $(pick 99)  max $(pick 100)"
echo "stored: $($bin --data "$work/data" stats --json 2>/dev/null | grep -o '"total": [0-9]*' || echo "(kiosk holds the folder)")"
