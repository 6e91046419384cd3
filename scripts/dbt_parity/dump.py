"""Print every table and view of a DuckDB file in the canonical form that the parity fixtures'
expected/step-N.txt files hold and tests/parity.rs writes the same way: per relation, a header
line, its columns with types, then its rows as JSON, sorted.

Tables named `*__dbt_backup` are left out: dbt-duckdb 1.10.1 leaves one behind after a full
refresh of an incremental model (its drop runs in a transaction that is rolled back)."""
import sys, duckdb

con = duckdb.connect(sys.argv[1], read_only=True)
rels = con.execute(
    "select table_schema, table_name, table_type from information_schema.tables "
    "where table_catalog = current_database() and table_name not like '%\\_\\_dbt\\_backup' escape '\\' "
    "order by table_schema, table_name"
).fetchall()
for schema, name, kind in rels:
    cols = con.execute(
        "select column_name, data_type from information_schema.columns "
        "where table_catalog = current_database() and table_schema = ? and table_name = ? "
        "order by ordinal_position",
        [schema, name],
    ).fetchall()
    quoted = '"' + schema.replace('"', '""') + '"."' + name.replace('"', '""') + '"'
    rows = con.execute(f"select to_json(t)::varchar as j from {quoted} as t order by j").fetchall()
    print(f"# {schema}.{name} ({kind})")
    print("# columns: " + ", ".join(f"{c} {t}" for c, t in cols))
    for (j,) in rows:
        print(j)
