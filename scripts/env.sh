# Sourced by ./mallard, scripts/test and .ci/run: makes DuckDB's prebuilt shared library
# available and points cargo at a target folder shared by every clone on this machine.
#
# Why prebuilt: compiling DuckDB's bundled C++ takes about 70 minutes on 2 cores; the
# official libduckdb.so (DuckDB 1.5.6, the version crate duckdb 1.10506.0 binds) comes in
# the npm package @duckdb/node-bindings-linux-x64 and takes seconds to fetch.
# Set MALLARD_BUNDLED=1 to compile DuckDB from source instead (cargo feature `bundled`).

MALLARD_DUCKDB_VERSION=1.5.6
MALLARD_DUCKDB_NPM="@duckdb/node-bindings-linux-x64@${MALLARD_DUCKDB_VERSION}-r.1"
MALLARD_CACHE="${MALLARD_CACHE:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/mallard}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$MALLARD_CACHE/target}"

if [ "${MALLARD_BUNDLED:-0}" = 1 ]; then
  MALLARD_CARGO_FEATURES=(--features bundled)
else
  MALLARD_CARGO_FEATURES=()
  export DUCKDB_LIB_DIR="${DUCKDB_LIB_DIR:-$MALLARD_CACHE/duckdb/$MALLARD_DUCKDB_VERSION}"
  if [ ! -f "$DUCKDB_LIB_DIR/libduckdb.so" ]; then
    if ! command -v npm >/dev/null 2>&1; then
      echo "mallard: npm is needed once to fetch DuckDB's prebuilt library ($MALLARD_DUCKDB_NPM);" >&2
      echo "         install Node.js and npm, or set MALLARD_BUNDLED=1 to compile DuckDB (about 70 minutes)" >&2
      return 1 2>/dev/null || exit 1
    fi
    echo "mallard: fetching DuckDB $MALLARD_DUCKDB_VERSION ($MALLARD_DUCKDB_NPM) into $DUCKDB_LIB_DIR" >&2
    _mallard_tmp="$(mktemp -d)"
    if ! (cd "$_mallard_tmp" && npm pack --silent "$MALLARD_DUCKDB_NPM" >/dev/null \
          && tar xzf ./*.tgz package/libduckdb.so); then
      echo "mallard: could not fetch $MALLARD_DUCKDB_NPM from the npm registry" >&2
      rm -rf "$_mallard_tmp"
      return 1 2>/dev/null || exit 1
    fi
    mkdir -p "$DUCKDB_LIB_DIR"
    # Move into place last, so an interrupted fetch never leaves a half-written library.
    mv "$_mallard_tmp/package/libduckdb.so" "$DUCKDB_LIB_DIR/libduckdb.so.partial"
    mv "$DUCKDB_LIB_DIR/libduckdb.so.partial" "$DUCKDB_LIB_DIR/libduckdb.so"
    rm -rf "$_mallard_tmp"
  fi
fi

# MALLARD_SPARK=1 builds the Spark engine too (cargo feature `spark`; needs protoc). scripts/test
# sets it; `MALLARD_SPARK=1 ./mallard ...` runs the same binary the tests built, where a plain
# `./mallard` (no Spark, no protoc needed) would rebuild Mallard's own crate without it.
if [ "${MALLARD_SPARK:-0}" = 1 ]; then
  MALLARD_CARGO_FEATURES+=(--features spark)
fi
