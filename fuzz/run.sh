#!/usr/bin/env bash
# Builds the libFuzzer harness on the stable toolchain (the sanitizer-coverage
# instrumentation cargo-fuzz adds, without nightly-only sanitizers) and runs it.
#   fuzz/run.sh                 # run until stopped
#   fuzz/run.sh -max_total_time=60
#   fuzz/run.sh replay           # run the saved findings in regressions/ once
# The corpus is seeded from processes/, examples/ and tests/fixtures/ plus the
# inputs of earlier findings in fuzz/regressions/; findings land in
# fuzz/artifacts/.
set -euo pipefail
cd "$(dirname "$0")"
export RUSTFLAGS="--cfg fuzzing -Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares -Cllvm-args=-sanitizer-coverage-stack-depth"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}"
# An explicit --target keeps the flags off build scripts and proc macros.
TARGET="$(rustc -vV | sed -n 's/^host: //p')"
cargo build --release --bin compile --target "$TARGET"
BIN="$CARGO_TARGET_DIR/$TARGET/release/compile"
if [ "${1:-}" = replay ]; then
  shopt -s nullglob
  files=(regressions/*)
  [ ${#files[@]} -eq 0 ] && { echo "no regressions saved"; exit 0; }
  exec "$BIN" "${files[@]}"
fi
mkdir -p corpus/compile artifacts
for f in ../processes/*.pdca ../tests/fixtures/*.pdca ../examples/*/*.pdca regressions/*; do
  [ -f "$f" ] && cp -n "$f" "corpus/compile/$(basename "$f")" 2>/dev/null || true
done
exec "$BIN" corpus/compile -artifact_prefix=artifacts/ \
  -dict=pdca.dict -timeout=20 -rss_limit_mb=2048 -max_len=65536 "$@"
