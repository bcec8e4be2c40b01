#!/usr/bin/env bash
# Fuzzes the pure protocol code with cargo-fuzz (libFuzzer): each target in
# fuzz/fuzz_targets/ runs for SECONDS (default 30), one after the other.
#
#   bash scripts/fuzz.sh [SECONDS]
#
# Installs cargo-fuzz when missing (one retry), builds with AddressSanitizer
# (falling back to no sanitizer if that build fails), starts each target from
# its seed corpus fuzz/corpus/<target>/ (never written to: new inputs go to a
# temporary directory), and prints one summary line per target. Exits 1 if any
# target crashed; the input is kept under fuzz/artifacts/<target>/ and printed
# in base64 so a CI log is enough to reproduce it:
#
#   base64 -d > crash.bin; RUSTC_BOOTSTRAP=1 cargo fuzz run <target> crash.bin   (in fuzz/)
#
# Works on stable Rust: RUSTC_BOOTSTRAP=1 lets stable accept the -Z flags
# cargo-fuzz passes. Cargo runs under flock on $LWS_CARGO_LOCK (default
# /tmp/lws-cargo.lock) so it never overlaps another build on a shared machine.
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_PER_TARGET="${1:-30}"
TARGETS=(frame_reader handshake response utf8 deflate)
CARGO_FUZZ_VERSION="${CARGO_FUZZ_VERSION:-0.13.2}"
LOCK="${LWS_CARGO_LOCK:-/tmp/lws-cargo.lock}"
export CARGO_TARGET_DIR="${LWS_FUZZ_TARGET_DIR:-$PWD/fuzz/target}"
rustc -V | grep -q nightly || export RUSTC_BOOTSTRAP=1

locked() {
  if command -v flock >/dev/null; then flock "$LOCK" "$@"; else "$@"; fi
}

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz: installing cargo-fuzz $CARGO_FUZZ_VERSION"
  if ! locked cargo install cargo-fuzz --locked --version "$CARGO_FUZZ_VERSION"; then
    echo "fuzz: cargo install cargo-fuzz failed; retrying once in 10 s" >&2
    sleep 10
    locked cargo install cargo-fuzz --locked --version "$CARGO_FUZZ_VERSION"
  fi
fi
echo "fuzz: $(cargo fuzz --version), $(rustc -V), ${SECONDS_PER_TARGET}s per target"

sanitizer=address
if ! (cd fuzz && locked cargo fuzz build --sanitizer address); then
  echo "fuzz: AddressSanitizer build failed; building without a sanitizer" >&2
  sanitizer=none
  (cd fuzz && locked cargo fuzz build --sanitizer none)
fi
host="$(rustc -vV | sed -n 's/^host: //p')"
bin_dir="$CARGO_TARGET_DIR/$host/release"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_odr_violation=0}"
passed=0
failed=0
for t in "${TARGETS[@]}"; do
  mkdir -p "$work/$t" "fuzz/artifacts/$t"
  log="$work/$t.log"
  before="$(ls "fuzz/artifacts/$t" | wc -l)"
  set +e
  "$bin_dir/$t" "$work/$t" "fuzz/corpus/$t" \
    -max_total_time="$SECONDS_PER_TARGET" -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix="fuzz/artifacts/$t/" -print_final_stats=1 >"$log" 2>&1
  rc=$?
  set -e
  runs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1 || true)"
  cov="$(grep -oE 'cov: [0-9]+' "$log" | tail -1 | cut -d' ' -f2 || true)"
  corp="$(grep -oE 'corp: [0-9]+' "$log" | tail -1 | cut -d' ' -f2 || true)"
  new_artifacts="$(ls -t "fuzz/artifacts/$t" | head -n "$(($(ls "fuzz/artifacts/$t" | wc -l) - before))")"
  crashes="$(printf '%s' "$new_artifacts" | grep -c . || true)"
  if [ "$rc" -ne 0 ] && [ "$crashes" -eq 0 ]; then crashes=1; fi
  echo "fuzz: $t: ${runs:-?} runs in ${SECONDS_PER_TARGET}s, coverage ${cov:-?}, corpus ${corp:-?}, crashes $crashes (sanitizer $sanitizer)"
  if [ "$crashes" -ne 0 ]; then
    failed=$((failed + 1))
    echo "fuzz: $t failed (exit $rc):" >&2
    grep -E -A3 "panicked at|ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)" "$log" | head -n 20 >&2 || true
    echo "fuzz: libFuzzer's output ends with:" >&2
    grep -v -E '^#[0-9]+ |^ +#?[0-9]+:? |^ +at ' "$log" | tail -n 15 >&2 || true
    for a in $new_artifacts; do
      echo "fuzz: fuzz/artifacts/$t/$a (base64):" >&2
      base64 "fuzz/artifacts/$t/$a" >&2
    done
  else
    passed=$((passed + 1))
  fi
done
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
