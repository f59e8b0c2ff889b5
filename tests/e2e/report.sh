#!/usr/bin/env bash
# `cleanmix report` on the sample, rendered once in headless Chromium: every image must load.
set -euo pipefail
source "$(dirname "$0")/common.sh"
timeout 600 "$mpiexec" -n 2 "${flags[@]}" "$bin" run "$repo/configs/sample.toml" --out "$work/sample.h5" \
  --workdir "$work/sample.work" 2> "$work/run.log" || { cat "$work/run.log"; exit 1; }
"$bin" report "$work/sample.h5" --out "$work/report"
n=$(grep -o "<img " "$work/report/index.html" | wc -l)
[ "$n" -ge 5 ] || { echo "FAIL: the report has $n images, expected 5"; exit 1; }
browser=$(command -v chromium || command -v chromium-browser || true)
[ -n "$browser" ] || { echo "FAIL: chromium is not installed (bash scripts/deps.sh)"; exit 1; }
common=(--headless --no-sandbox --disable-gpu --disable-quic --no-first-run
        --disable-background-networking --disable-component-update --disable-sync
        --user-data-dir="$work/chromium-profile" --virtual-time-budget=10000)
timeout 120 "$browser" "${common[@]}" --dump-dom "file://$work/report/index.html" \
  > "$work/dom.html" 2> "$work/chromium.log" || { tail -20 "$work/chromium.log"; exit 1; }
status=$(grep -o "images loaded: [0-9]*/[0-9]*" "$work/dom.html" || true)
echo "chromium: $status"
[ "$status" = "images loaded: $n/$n" ] || { echo "FAIL: not every image loaded"; exit 1; }
timeout 120 "$browser" "${common[@]}" --window-size=1280,2400 \
  --screenshot="$work/report.png" "file://$work/report/index.html" 2>> "$work/chromium.log" || true
[ -s "$work/report.png" ] && echo "screenshot: $work/report.png"
