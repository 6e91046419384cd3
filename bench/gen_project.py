#!/usr/bin/env python3
"""Writes a synthetic dbt project of N models for Mallard's parse-and-compile benchmark.

    python3 bench/gen_project.py N OUT_DIR

Models sit in folders of 100. The first 10 select literals; every later model i joins two
earlier ones, i - 1 (long chains) and i // 2 (fan-outs), and calls a project macro. Each
folder has a property file documenting its models with `unique` and `not_null` tests on `id`,
so N models give 2N data tests. The output depends on N only.
"""
import os
import sys


def main() -> None:
    n, out = int(sys.argv[1]), sys.argv[2]
    os.makedirs(os.path.join(out, "macros"), exist_ok=True)
    with open(os.path.join(out, "dbt_project.yml"), "w") as f:
        f.write("name: synthetic\nprofile: synthetic\nmodels:\n  synthetic:\n    +materialized: view\n")
    with open(os.path.join(out, "profiles.yml"), "w") as f:
        f.write("synthetic:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n      path: synthetic.duckdb\n")
    with open(os.path.join(out, "macros", "helpers.sql"), "w") as f:
        f.write("{% macro add_one(column) %}({{ column }} + 1){% endmacro %}\n")
    for folder in range(0, n, 100):
        d = os.path.join(out, "models", f"g{folder // 100:03d}")
        os.makedirs(d, exist_ok=True)
        props = ["version: 2", "models:"]
        for i in range(folder, min(folder + 100, n)):
            if i < 10:
                sql = f"select {i} as id, 'root {i}' as name\n"
            else:
                sql = (
                    "{{ config(tags=['synthetic']) }}\n"
                    f"select a.id, {{{{ add_one('a.id') }}}} as v, b.id as parent_id\n"
                    f"from {{{{ ref('m{i - 1}') }}}} as a\n"
                    f"join {{{{ ref('m{i // 2}') }}}} as b on a.id = b.id\n"
                )
            with open(os.path.join(d, f"m{i}.sql"), "w") as f:
                f.write(sql)
            props += [f"  - name: m{i}", f"    description: Synthetic model {i}.", "    columns:",
                      "      - name: id", "        data_tests: [unique, not_null]"]
        with open(os.path.join(d, "properties.yml"), "w") as f:
            f.write("\n".join(props) + "\n")


if __name__ == "__main__":
    main()
