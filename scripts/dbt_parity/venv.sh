# Sourced by scripts/dbt_parity/run and realworld: makes `$venv` a virtual environment with
# dbt-core 1.11, dbt-duckdb 1.11 and Python's duckdb at Mallard's DuckDB version (from PyPI).
venv="${MALLARD_CACHE}/dbt111"
if [ ! -x "$venv/bin/dbt" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet "dbt-core>=1.11,<1.12" "dbt-duckdb>=1.11,<1.12" "duckdb==${MALLARD_DUCKDB_VERSION}"
fi
export DBT_SEND_ANONYMOUS_USAGE_STATS=false
