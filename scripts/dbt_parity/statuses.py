"""Print each node's status from a run_results.json, one `<resource type> <name> <status>` line
per node, sorted: what tests/parity.rs compares with Mallard's run_results.json. Data tests are
named without the hash suffix of their unique_id (dbt's and Mallard's hashes differ); unit tests
as `<model>.<test>`."""
import json, sys

lines = []
for r in json.load(open(sys.argv[1]))["results"]:
    parts = r["unique_id"].split(".")
    kind = parts[0]
    name = ".".join(parts[2:4]) if kind == "unit_test" else parts[2]
    lines.append(f"{kind} {name} {r['status']}")
print("\n".join(sorted(lines)))
