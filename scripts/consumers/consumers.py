"""Loads a Mallard-built project's artifacts with the tools that read dbt's.

    python consumers.py PROJECT_DIR MALLARD_BINARY

Prints one line per consumer check, `ok` or `FAILED` with the reason, and exits 1 if any
failed. PROJECT_DIR holds target/manifest.json and target/run_results.json of a build.
"""

import json
import os
import sys
import traceback
from pathlib import Path

project = Path(sys.argv[1])
mallard = sys.argv[2]
manifest_path = project / "target" / "manifest.json"
results_path = project / "target" / "run_results.json"
failed = []


def check(name):
    def wrap(fn):
        try:
            detail = fn()
            print(f"ok      {name}: {detail}")
        except Exception as e:  # a consumer's failure is the finding, not a crash
            failed.append(name)
            last = traceback.format_exc().strip().splitlines()[-1]
            print(f"FAILED  {name}: {type(e).__name__}: {str(e)[:300] or last}")
        return fn

    return wrap


@check("dbt-artifacts-parser manifest")
def _():
    from dbt_artifacts_parser.parser import parse_manifest

    m = parse_manifest(json.loads(manifest_path.read_text()))
    return f"{type(m).__name__} with {len(m.nodes)} nodes, {len(m.sources)} sources, {len(m.macros)} macros"


@check("dbt-artifacts-parser run_results")
def _():
    from dbt_artifacts_parser.parser import parse_run_results

    r = parse_run_results(json.loads(results_path.read_text()))
    return f"{type(r).__name__} with {len(r.results)} results"


@check("dagster-dbt @dbt_assets from the manifest")
def _():
    from dagster_dbt import DbtCliResource, dbt_assets

    @dbt_assets(manifest=manifest_path)
    def warehouse_assets(context, dbt: DbtCliResource):
        yield from dbt.cli(["build"], context=context).stream()

    keys = list(warehouse_assets.keys)
    checks = list(getattr(warehouse_assets, "check_specs", []))
    return f"{len(keys)} assets, {len(checks)} asset checks (e.g. {keys[0].to_user_string()})"


@check("dagster-dbt DbtCliResource running mallard")
def _():
    from dagster import materialize
    from dagster_dbt import DbtCliResource, dbt_assets

    @dbt_assets(manifest=manifest_path)
    def everything(context, dbt: DbtCliResource):
        yield from dbt.cli(["build"], context=context).stream()

    resource = DbtCliResource(project_dir=os.fspath(project), dbt_executable=mallard, profiles_dir=os.fspath(project))
    result = materialize([everything], resources={"dbt": resource})
    events = result.get_asset_materialization_events()
    if not events:
        raise RuntimeError("the run materialized no asset")
    return f"materialize success={result.success}, {len(events)} assets materialized"


@check("astronomer-cosmos DbtDag with LoadMode.DBT_MANIFEST")
def _():
    from datetime import datetime

    from cosmos import DbtDag, ExecutionConfig, ProfileConfig, ProjectConfig, RenderConfig
    from cosmos.constants import LoadMode

    dag = DbtDag(
        dag_id="retention_warehouse",
        project_config=ProjectConfig(manifest_path=manifest_path, project_name="retention"),
        profile_config=ProfileConfig(
            profile_name="retention", target_name="dev", profiles_yml_filepath=project / "profiles.yml"
        ),
        execution_config=ExecutionConfig(dbt_executable_path=mallard, dbt_project_path=project),
        render_config=RenderConfig(load_method=LoadMode.DBT_MANIFEST),
        start_date=datetime(2026, 1, 1),
        schedule=None,
    )
    return f"{len(dag.tasks)} tasks (e.g. {sorted(t.task_id for t in dag.tasks)[:2]})"


sys.exit(1 if failed else 0)
