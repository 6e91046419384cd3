"""Compare every table and view of two DuckDB files (each opened under its own catalog name):
same relations, same column types, same multiset of rows."""
import sys, duckdb, math

def load(path):
    con = duckdb.connect(path, read_only=True)
    rels = con.execute("select table_schema, table_name from information_schema.tables order by all").fetchall()
    out = {}
    for s, t in rels:
        cols = con.execute(f"select column_name, data_type from information_schema.columns where table_schema='{s}' and table_name='{t}' order by ordinal_position").fetchall()
        rows = con.execute(f'select * from "{s}"."{t}"').fetchall()
        out[(s, t)] = (cols, rows)
    con.close()
    return out

def norm(row):
    return tuple(round(v, 9) if isinstance(v, float) and not math.isnan(v) else v for v in row)

a, b = load(sys.argv[1]), load(sys.argv[2])
print("relations only in mallard:", sorted(set(a) - set(b)))
print("relations only in dbt:", sorted(set(b) - set(a)))
bad = 0
for key in sorted(set(a) & set(b)):
    (ca, ra), (cb, rb) = a[key], b[key]
    rows_equal = sorted(map(norm, ra), key=repr) == sorted(map(norm, rb), key=repr)
    types_equal = ca == cb
    if not (rows_equal and types_equal):
        bad += 1
    print(f"{key[0]}.{key[1]}: rows={len(ra)}/{len(rb)} rows_equal={rows_equal} types_equal={types_equal}"
          + ("" if types_equal else f"\n   mallard={ca}\n   dbt={cb}"))
print("MISMATCHES:", bad)
