"""The relations of a DuckDB file in the digest form that tests/realworld.rs computes the same
way (its `digest` function): one line per relation,

    <schema>.<name> <table|view> | <column> <TYPE>[ -- <comment>], ... | rows=<n> md5=<hex>

Columns in ordinal order (by name for relations listed as column-order free); the md5 is of
the rows as JSON objects with keys sorted by column name, one per line, sorted. Relations
compared on columns only get `rows=*`. A relation comment (persist_docs) follows as
`comment=...`. Tables named `*__dbt_backup` are left out (dbt-duckdb leaves them behind).

    python digest.py DB [--columns-only NAME ...] [--column-order-free NAME ...]
"""
import argparse, duckdb

p = argparse.ArgumentParser()
p.add_argument("db")
p.add_argument("--columns-only", nargs="*", default=[])
p.add_argument("--column-order-free", nargs="*", default=[])
a = p.parse_args()

con = duckdb.connect(a.db, read_only=True)
rels = con.execute(
    "select schema_name, table_name, 'table', comment from duckdb_tables() where database_name = current_database() "
    "and table_name not like '%\\_\\_dbt\\_backup' escape '\\' "
    "union all select schema_name, view_name, 'view', comment from duckdb_views() "
    "where database_name = current_database() and not internal "
    "order by 1, 2"
).fetchall()
for schema, name, kind, comment in rels:
    cols = con.execute(
        "select column_name, data_type, comment from duckdb_columns() where database_name = current_database() "
        "and schema_name = ? and table_name = ? order by column_index",
        [schema, name],
    ).fetchall()
    shown = sorted(cols) if name in a.column_order_free else cols
    col_text = ", ".join(f"{c} {t}" + (f" -- {m}" if m else "") for c, t, m in shown)
    q = lambda s: '"' + s.replace('"', '""') + '"'
    if name in a.columns_only:
        rows = "rows=*"
    else:
        fields = ", ".join(f"'{c.replace(chr(39), chr(39) * 2)}': {q(c)}" for c, _, _ in sorted(cols))
        n, h = con.execute(
            f"select count(*), md5(coalesce(string_agg(j, chr(10) order by j), '')) from "
            f"(select to_json({{{fields}}})::varchar as j from {q(schema)}.{q(name)})"
        ).fetchone()
        rows = f"rows={n} md5={h}"
    extra = f" comment={comment}" if comment else ""
    print(f"{schema}.{name} {kind} | {col_text} | {rows}{extra}")
