#!/usr/bin/env bash
# Web benchmark (issue 4): the Rust server against the original Flask app,
# strokes and image submissions at 1, 8 and 32 connections, in one matrix.
#
#   benches/web/run.sh [extra loadgen matrix options, e.g. --repeat 3 --wait-idle 30 --json rows.json]
#
# Copies ../shared/peers (the Flask peer and its load generator) to a temp
# dir, applies loadgen-strokes.patch (strokes bodies for servers whose name
# ends in `-strokes`; verification against the database's `sha256` column,
# since this server stores its own re-encoded PNG), installs the peer's
# requirements and gunicorn if missing, builds --release, runs the matrix on
# 127.0.0.1 only and prints the markdown table. Every cell starts a fresh
# server on a fresh data folder and checks it afterwards (nothing lost,
# nothing doubled, every acknowledged sample on disk).
#
# Every cell's data folder is kept until the whole matrix has run
# (--keep-data, then one rm at the end): this machine's ext4 has no journal,
# and such an ext4 skips inodes freed in the last minute (five, while their
# inode table block is dirty) when it creates a file, so deleting a finished
# cell's ~2000 files makes every file the next server creates scan past them.
# That would charge whichever server runs next for the harness's own cleanup.
#
# Environment: PEERS (default ../shared/peers from the repo root),
# N (2000), C (1,8,32), WARMUP (20).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
peers=${PEERS:-$root/../shared/peers}
n=${N:-2000}
conc=${C:-1,8,32}
warmup=${WARMUP:-20}

[ -f "$peers/loadgen.py" ] || { echo "no loadgen.py in $peers (set PEERS)" >&2; exit 1; }
work=$(mktemp -d "${TMPDIR:-/tmp}/digit-kiosk-webbench.XXXXXX")
cp -r "$peers/." "$work/peers"
chmod -R u+w "$work/peers"
patch --quiet --no-backup-if-mismatch "$work/peers/loadgen.py" <"$here/loadgen-strokes.patch"

if ! python3 -c 'import flask, gunicorn' 2>/dev/null; then
  python3 -m pip install --quiet -r "$work/peers/flask_seed/requirements.txt" gunicorn
fi

(cd "$root" && cargo build --release --quiet)
bin="$root/target/release/digit-kiosk"
rust="$bin serve --data {data} --addr 127.0.0.1:{port} --rate-limit 0"

status=0
# Server commands run in the copy (loadgen --cwd default); --json paths are the caller's.
python3 "$work/peers/loadgen.py" matrix \
  --server gunicorn-sync-w3 --server gunicorn-gthread-w3t4 --server flask-dev \
  --server "rust-image=$rust" --server "rust-strokes=$rust" \
  --ready-path /healthz -n "$n" -c "$conc" --warmup "$warmup" \
  --workdir "$work/cells" --keep-data "$@" | tee "$work/matrix.log" || status=$?

if [ "$status" -eq 0 ]; then
  rm -rf "$work"
else
  echo "matrix exited $status; logs and the data of failed cells kept in $work" >&2
fi
exit "$status"
