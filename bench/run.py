#!/usr/bin/env python3
"""Mallard's benchmark. Every comparison is a ratio of medians measured in this same run.

1. Against the limit: `mallard build` of the example warehouse versus the same statements
   (seed loads, models, tests; logged by MALLARD_SQL_LOG) replayed by DuckDB in one process,
   at seed scale 1 and 10.
2. Against dbt: `dbt build` (dbt-core 1.11 + dbt-duckdb 1.11 from PyPI, in a virtual environment)
   versus `mallard build`, both cold, same seeds, same threads; the marts are compared first.
3. Parse and compile: `mallard compile` of synthetic projects of 1,000 and 10,000 models, into a
   fresh target/ and again over the last run's.
4. Data at scale: `mallard build` at seed scale 10 and 100, and the growth between them.
5. Nothing to do: `mallard build --select state:modified+ --state <previous target>`.
6. The JSON log's cost: `mallard build` of the warehouse (scale 1) with `--log-format json`
   against the text format, alternating.
7. The engine's floor on each public project (`--only-floor`): the statements Mallard runs for
   its commands (MALLARD_SQL_LOG, one thread) replayed by DuckDB alone, against Mallard's time.
8. dbt against Mallard on each public project of ../shared/realworld (tests/realworld/*/
   parity.yml: the same commands in a fresh copy each run, cold), alternating the two tools;
   total wall time of the commands and the peak memory of the largest one.
9. Spark (`--only-spark`; a build with `--features spark` and a server started by
   `bash scripts/spark-server start`): the warehouse's CDNOW marts run by Mallard against
   dbt-spark 1.11 (`method: session`, the same pyspark), alternating, one thread each; and
   Mallard's overhead per node: its run against the same statements (MALLARD_SQL_LOG) sent by
   a raw Spark Connect client (examples/spark_replay.rs), alternating.

Run it with `bash bench/run` (which builds the release binaries first). Results go to
BENCHMARKS.md. Wall time is from before spawning to after reaping each process; peak memory is
that process's maximum resident set size, from wait4.
"""
import argparse
import datetime
import difflib
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
MALLARD = os.path.join(TARGET, "release", "mallard")
SEEDGEN = os.path.join(TARGET, "release", "seedgen")
REPLAY = os.path.join(TARGET, "release", "examples", "replay_sql")
SPARK_REPLAY = os.path.join(TARGET, "release", "examples", "spark_replay")
RELATIONS = os.path.join(TARGET, "release", "examples", "relations")
PROJECT_FILES = ["dbt_project.yml", "profiles.yml", "models", "macros", "exports"]


def run(cmd, cwd, env=None, check=True):
    """Runs cmd; returns (seconds, peak RSS in MiB, output)."""
    with tempfile.TemporaryFile() as out:
        start = time.perf_counter()
        p = subprocess.Popen(cmd, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, env=env)
        _, status, usage = os.wait4(p.pid, 0)
        seconds = time.perf_counter() - start
        out.seek(0)
        text = out.read().decode(errors="replace")
    code = os.waitstatus_to_exitcode(status)
    if check and code != 0:
        sys.exit(f"benchmark step failed ({code}): {' '.join(cmd)}\n{text[-3000:]}")
    return seconds, usage.ru_maxrss / 1024.0, text


def summary(values):
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}


def fmt(s, unit="s", digits=2):
    return f"{s['median']:.{digits}f} {unit} ({s['min']:.{digits}f}-{s['max']:.{digits}f}, n={s['n']})"


def make_project(dest, seeds_dir):
    """A copy of the example warehouse whose seeds come from seeds_dir."""
    os.makedirs(dest)
    for f in PROJECT_FILES:
        src = os.path.join(ROOT, f)
        (shutil.copytree if os.path.isdir(src) else shutil.copy)(src, os.path.join(dest, f))
    shutil.copytree(os.path.join(ROOT, "tests", "singular"), os.path.join(dest, "tests", "singular"))
    shutil.copytree(seeds_dir, os.path.join(dest, "seeds"))


def seeds_at(scale, work):
    if scale == 1:
        return os.path.join(ROOT, "seeds")
    d = os.path.join(work, f"seeds{scale}")
    if not os.path.isdir(d):
        run([SEEDGEN, "--scale", str(scale), "--out", d], ROOT)
        for f in ("cdnow_transactions.csv", "properties.yml"):
            shutil.copy(os.path.join(ROOT, "seeds", f), d)
    return d


def clean(project):
    for f in os.listdir(project):
        if f.startswith("retention.duckdb") or f in ("target", ".mallard-publish"):
            p = os.path.join(project, f)
            shutil.rmtree(p) if os.path.isdir(p) else os.remove(p)


def timed_builds(project, runs, args=(), env=None):
    secs, mems = [], []
    for _ in range(runs):
        clean(project)
        s, m, _ = run([MALLARD, "build", *args], project, env=env)
        secs.append(s)
        mems.append(m)
    return summary(secs), summary(mems)


def against_the_limit(work, scale, runs, results):
    project = os.path.join(work, f"limit{scale}")
    make_project(project, seeds_at(scale, work))
    clean(project)
    log = os.path.join(work, f"statements{scale}.sql")
    run([MALLARD, "build", "--threads", "1"], project, env=dict(os.environ, MALLARD_SQL_LOG=log))
    # The three are interleaved, run by run: this machine's speed drifts over minutes, and
    # interleaving puts the drift into all three alike instead of into their ratio.
    t2, t1, replays = [], [], []
    for _ in range(runs):
        clean(project)
        t2.append(run([MALLARD, "build"], project)[0])
        clean(project)
        t1.append(run([MALLARD, "build", "--threads", "1"], project)[0])
        d = os.path.join(work, f"replay{scale}")
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        replays.append(run([REPLAY, os.path.join(d, "retention.duckdb"), log], ROOT)[0])
    threads2, threads1, replay = summary(t2), summary(t1), summary(replays)
    results.append((
        f"Against the limit, scale {scale}",
        [
            ("DuckDB replaying the same statements in one connection", fmt(replay)),
            ("mallard build --threads 1", fmt(threads1) + f" = {threads1['median'] / replay['median']:.2f}x DuckDB"),
            ("mallard build (2 threads, the profile's)", fmt(threads2) + f" = {threads2['median'] / replay['median']:.2f}x DuckDB"),
        ],
    ))


def against_dbt(work, runs, results):
    venv = dbt_venv()
    dbt = os.path.join(venv, "bin", "dbt")
    project = os.path.join(work, "dbt")
    make_project(project, seeds_at(1, work))
    dbt_secs = []
    for _ in range(runs):
        clean(project)
        s, _, _ = run([dbt, "build", "--profiles-dir", ".", "--no-partial-parse"], project)
        dbt_secs.append(s)
    os.makedirs(os.path.join(work, "dbt_db"), exist_ok=True)
    shutil.copy(os.path.join(project, "retention.duckdb"), os.path.join(work, "dbt_db", "retention.duckdb"))
    mallard, _ = timed_builds(project, runs)
    # Both printed by the code tests/parity.rs uses; floats to 6 significant digits, as one
    # build's parallel sums may differ from the other's in the last bits.
    # From the project folder: dbt-duckdb's views over the exported files name them relative
    # to it (they read the files of the last build there, Mallard's).
    _, mine, _ = run([RELATIONS, "dump", os.path.join(project, "retention.duckdb"), "--rounded"], project)
    _, theirs, _ = run([RELATIONS, "dump", os.path.join(work, "dbt_db", "retention.duckdb"), "--rounded"], project)
    if mine != theirs:
        diff = difflib.unified_diff(theirs.splitlines(), mine.splitlines(), "dbt", "mallard", lineterm="")
        sys.exit("dbt and mallard built different relations:\n" + "\n".join(list(diff)[:60]))
    d = summary(dbt_secs)
    results.append((
        "Against dbt, scale 1 (same marts: every relation's types and rows compared equal)",
        [
            ("dbt build (dbt-core 1.11, dbt-duckdb 1.11), cold, 2 threads", fmt(d)),
            ("mallard build, cold, 2 threads", fmt(mallard) + f"; dbt / mallard = {d['median'] / mallard['median']:.1f}x"),
        ],
    ))


def dbt_venv():
    """dbt-core 1.11 + dbt-duckdb 1.11 with Python's duckdb at Mallard's DuckDB (scripts/dbt_parity/venv.sh)."""
    venv = os.path.join(os.environ.get("MALLARD_CACHE", os.path.expanduser("~/.cache/mallard")), "dbt111")
    if not os.path.exists(os.path.join(venv, "bin", "dbt")):
        run([sys.executable, "-m", "venv", venv], ROOT)
        run([os.path.join(venv, "bin", "pip"), "install", "--quiet", "dbt-core>=1.11,<1.12", "dbt-duckdb>=1.11,<1.12",
             "duckdb==1.5.6"], ROOT)
    return venv


def against_dbt_corpus(work, runs, results):
    import yaml  # in the dbt venv's site-packages only: read the specs with its Python
    rows = []
    corpus = os.path.join(os.path.dirname(ROOT), "shared", "realworld")
    dbt = os.path.join(dbt_venv(), "bin", "dbt")
    specs = os.path.join(ROOT, "tests", "realworld")
    env = dict(os.environ, DBT_SEND_ANONYMOUS_USAGE_STATS="false")
    for name in sorted(os.listdir(specs)):
        spec = yaml.safe_load(open(os.path.join(specs, name, "parity.yml")))
        top = spec["project"].split("/")[0]
        secs = {"dbt": [], "mallard": []}
        mem = {"dbt": 0.0, "mallard": 0.0}
        for i in range(runs):
            for tool in (["dbt", "mallard"] if i % 2 == 0 else ["mallard", "dbt"]):
                dest = os.path.join(work, f"corpus-{tool}")
                shutil.rmtree(dest, ignore_errors=True)
                shutil.copytree(os.path.join(corpus, top), os.path.join(dest, top), symlinks=True)
                profiles = os.path.join(dest, "profiles")
                os.makedirs(profiles)
                with open(os.path.join(profiles, "profiles.yml"), "w") as f:
                    yaml.safe_dump({spec["profile"]: {"target": "dev", "outputs": {"dev": {
                        "type": "duckdb", "path": spec["database"], "threads": 4}}}}, f)
                total = 0.0
                for step in spec["steps"]:
                    argv = [str(a) for a in step] + ["--profiles-dir", profiles]
                    argv = ([dbt] + argv + ["--no-partial-parse"]) if tool == "dbt" else [MALLARD] + argv
                    s, m, _ = run(argv, os.path.join(dest, spec["project"]), env=env, check=False)
                    total += s
                    mem[tool] = max(mem[tool], m)
                secs[tool].append(total)
        d, m = summary(secs["dbt"]), summary(secs["mallard"])
        rows.append((f"{name}: {' ; '.join(' '.join(map(str, s)) for s in spec['steps'])}",
                     f"dbt {fmt(d)}, {mem['dbt']:.0f} MiB; mallard {fmt(m)}, {mem['mallard']:.0f} MiB; "
                     f"dbt / mallard = {d['median'] / m['median']:.1f}x"))
    results.append(("dbt against Mallard on public projects (same commands, cold, 4 threads, alternating)", rows))


def parse_and_compile(work, runs, results):
    rows = []
    for n in (1000, 10000):
        project = os.path.join(work, f"synthetic{n}")
        run([sys.executable, os.path.join(ROOT, "bench", "gen_project.py"), str(n), project], ROOT)
        secs, mems = [], []
        for k in range(runs):
            # Move the last run's 30,000 files aside instead of deleting them: on this machine's
            # filesystem (ext4 with `discard`) deleting them competes with the next run's writes.
            if os.path.isdir(os.path.join(project, "target")):
                os.rename(os.path.join(project, "target"), os.path.join(work, f"old-target-{n}-{k}"))
            os.sync()  # start each run with nothing of the last one left to write back
            s, m, _ = run([MALLARD, "compile"], project)
            secs.append(s)
            mems.append(m)
        rows.append((f"mallard compile, {n:,} models ({3 * n:,} nodes with tests)",
                     fmt(summary(secs)) + f", peak {fmt(summary(mems), 'MiB', 0)}"))
        # Again over the last run's target/: the edit-compile loop, where nothing changed.
        again = []
        for _ in range(runs):
            os.sync()
            again.append(run([MALLARD, "compile"], project)[0])
        rows.append((f"mallard compile again, {n:,} models, nothing changed", fmt(summary(again))))
    results.append(("Parse and compile (synthetic projects, bench/gen_project.py)", rows))


def data_at_scale(work, scales, runs, results):
    rows, medians = [], {}
    for scale in scales:
        project = os.path.join(work, f"scale{scale}")
        make_project(project, seeds_at(scale, work))
        secs, mems = timed_builds(project, runs)
        medians[scale] = (secs["median"], mems["median"])
        rows.append((f"mallard build, seed scale {scale}", fmt(secs) + f", peak {fmt(mems, 'MiB', 0)}"))
    if len(scales) == 2:
        a, b = scales
        rows.append((f"growth from scale {a} to {b} ({b // a}x data)",
                     f"time {medians[b][0] / medians[a][0]:.1f}x, peak memory {medians[b][1] / medians[a][1]:.1f}x"))
    results.append(("Data at scale (the example warehouse, generated seeds; CDNOW stays real)", rows))


def export_cost(work, scale, runs, results):
    """Every mart written to Parquet by an `external` model, against DuckDB's own COPY of the
    same tables. Both sides write the same files (one per mart), one statement at a time: Mallard's figure
    is the sum of the export nodes' execution times in run_results.json (`--threads 1`; the
    project's parse and compile are not part of writing files), DuckDB's the time replay_sql
    takes for the `COPY <mart> TO '...' (format parquet)` statements. Alternated run by run."""
    import json
    project = os.path.join(work, f"export{scale}")
    make_project(project, seeds_at(scale, work))
    marts = sorted(f[:-4] for f in os.listdir(os.path.join(project, "models", "marts")) if f.endswith(".sql"))
    os.makedirs(os.path.join(project, "models", "all_exports"))
    os.makedirs(os.path.join(project, "all_exports"), exist_ok=True)
    for m in marts:
        with open(os.path.join(project, "models", "all_exports", f"all_{m}.sql"), "w") as f:
            f.write("{{ config(materialized='external', location='all_exports/" + m + ".parquet') }}\n"
                    "select * from {{ ref('" + m + "') }}\n")
    clean(project)
    run([MALLARD, "build", "--exclude", "path:models/all_exports"], project)
    db = os.path.join(project, "retention.duckdb")
    copies = os.path.join(work, f"copies{scale}")
    log = os.path.join(work, f"copy{scale}.sql")
    with open(log, "w") as f:
        for m in marts:
            f.write(f"copy main.{m} to '{copies}/{m}.parquet' (format parquet)\n-- mallard: end of statement\n")
    mallard_secs, duckdb_secs = [], []
    for i in range(runs):
        for side in (["mallard", "duckdb"] if i % 2 == 0 else ["duckdb", "mallard"]):
            if side == "mallard":
                run([MALLARD, "run", "--select", "path:models/all_exports", "--threads", "1"], project)
                res = json.load(open(os.path.join(project, "target", "run_results.json")))
                mallard_secs.append(sum(r["execution_time"] for r in res["results"]))
            else:
                shutil.rmtree(copies, ignore_errors=True)
                os.makedirs(copies)
                duckdb_secs.append(run([REPLAY, db, log], ROOT)[0])
    m, d = summary(mallard_secs), summary(duckdb_secs)
    results.append((f"Writing every mart to Parquet, scale {scale} ({len(marts)} marts, alternating)", [
        ("DuckDB's own COPY of the mart tables (replay_sql, one connection)", fmt(d, "s", 3)),
        ("mallard's external models writing them (sum of node times, --threads 1)",
         fmt(m, "s", 3) + f" = {m['median'] / d['median']:.2f}x DuckDB"),
    ]))


def docs_cost(work, runs, results):
    """`docs generate` against `compile` on the warehouse (alternating), and on the synthetic
    10,000-model project: its time, and the time headless Chromium takes to load the site and
    run its script (`--dump-dom` of a model's page, the browser's start included)."""
    project = os.path.join(work, "docs")
    make_project(project, seeds_at(1, work))
    run([MALLARD, "build"], project)
    compile_secs, docs_secs = [], []
    for i in range(runs):
        for side in (["compile", "docs"] if i % 2 == 0 else ["docs", "compile"]):
            if side == "compile":
                compile_secs.append(run([MALLARD, "compile"], project)[0])
            else:
                docs_secs.append(run([MALLARD, "docs", "generate"], project)[0])
    c, d = summary(compile_secs), summary(docs_secs)
    rows = [
        ("mallard compile, the warehouse", fmt(c)),
        ("mallard docs generate, the warehouse", fmt(d) + f" = {d['median'] / c['median']:.2f}x compile"),
    ]
    synthetic = os.path.join(work, "docs10000")
    run([sys.executable, os.path.join(ROOT, "bench", "gen_project.py"), "10000", synthetic], ROOT)
    gen = summary([run([MALLARD, "docs", "generate"], synthetic)[0] for _ in range(max(3, runs // 2))])
    rows.append(("mallard docs generate, 10,000 models (no database: empty catalog)", fmt(gen)))
    chromium = shutil.which("chromium")
    if chromium:
        page = "file://" + os.path.join(synthetic, "target", "index.html") + "#!/model.synthetic.m9999"
        opened = []
        for _ in range(max(3, runs // 2)):
            profile = tempfile.mkdtemp(prefix="chromium-")
            opened.append(run([chromium, "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={profile}",
                               "--dump-dom", page], ROOT)[0])
            shutil.rmtree(profile, ignore_errors=True)
        size = os.path.getsize(os.path.join(synthetic, "target", "mallard_docs_data.js")) / 2**20
        rows.append((f"headless Chromium loading that site ({size:.0f} MiB of data), start to DOM", fmt(summary(opened))))
    results.append(("The documentation site", rows))


def nothing_to_do(work, runs, results):
    project = os.path.join(work, "state")
    make_project(project, seeds_at(1, work))
    run([MALLARD, "build"], project)
    shutil.copytree(os.path.join(project, "target"), os.path.join(project, "previous"))
    secs = [run([MALLARD, "build", "--select", "state:modified+", "--state", "previous"], project)[0] for _ in range(runs)]
    s = summary([x * 1000 for x in secs])
    results.append(("Nothing to do (scale 1)", [("mallard build --select state:modified+ --state previous", fmt(s, "ms", 0))]))


def json_log_cost(work, runs, results):
    project = os.path.join(work, "logs")
    make_project(project, seeds_at(1, work))
    text, jsonl = [], []
    for i in range(runs):
        for fmt_ in (["text", "json"] if i % 2 == 0 else ["json", "text"]):
            clean(project)
            s = run([MALLARD, "build", "--log-format", fmt_], project)[0]
            (text if fmt_ == "text" else jsonl).append(s)
    t, j = summary(text), summary(jsonl)
    results.append(("The JSON log's cost (the warehouse at scale 1, alternating)", [
        ("mallard build --log-format text", fmt(t)),
        ("mallard build --log-format json", fmt(j) + f"; json / text = {j['median'] / t['median']:.3f}x"),
    ]))


def corpus_copy(spec, dest):
    """A fresh copy of a corpus project and its profile; returns (project folder, profiles folder)."""
    import yaml
    corpus = os.path.join(os.path.dirname(ROOT), "shared", "realworld")
    shutil.rmtree(dest, ignore_errors=True)
    shutil.copytree(os.path.join(corpus, spec["project"].split("/")[0]),
                    os.path.join(dest, spec["project"].split("/")[0]), symlinks=True)
    profiles = os.path.join(dest, "profiles")
    os.makedirs(profiles)
    with open(os.path.join(profiles, "profiles.yml"), "w") as f:
        yaml.safe_dump({spec["profile"]: {"target": "dev", "outputs": {"dev": {
            "type": "duckdb", "path": spec["database"], "threads": 4}}}}, f)
    return os.path.join(dest, spec["project"]), profiles


def engine_floor(work, runs, results):
    import yaml
    specs = os.path.join(ROOT, "tests", "realworld")
    rows = []
    for name in sorted(os.listdir(specs)):
        spec = yaml.safe_load(open(os.path.join(specs, name, "parity.yml")))
        alone, mallard = [], []
        for _ in range(runs):
            project, profiles = corpus_copy(spec, os.path.join(work, "floor"))
            total = 0.0
            for step in spec["steps"]:
                total += run([MALLARD, *map(str, step), "--profiles-dir", profiles], project, check=False)[0]
            mallard.append(total)
            project, profiles = corpus_copy(spec, os.path.join(work, "floor"))
            logs = []
            for i, step in enumerate(spec["steps"]):
                log = os.path.join(work, f"floor-{i}.sql")
                if os.path.exists(log):
                    os.remove(log)
                run([MALLARD, *map(str, step), "--profiles-dir", profiles, "--threads", "1"], project,
                    env=dict(os.environ, MALLARD_SQL_LOG=log), check=False)
                logs.append(log)
            replay_dir = os.path.join(work, "floor-replay")
            shutil.rmtree(replay_dir, ignore_errors=True)
            os.makedirs(replay_dir)
            db = os.path.join(replay_dir, os.path.basename(spec["database"]))
            alone.append(sum(run([REPLAY, db, log], project)[0] for log in logs if os.path.exists(log)))
        a, m = summary(alone), summary(mallard)
        rows.append((name, f"DuckDB alone {fmt(a)}; mallard {fmt(m)} = {m['median'] / a['median']:.2f}x DuckDB"))
    results.append(("The engine's floor on public projects (their statements replayed by DuckDB alone)", rows))


CDNOW_MODELS = ["stg_cdnow__transactions", "stg_tickets__orders", "order_cohorts", "ltv", "rfm_segments"]
CDNOW_SEEDS = ["cdnow_transactions", "ticket_orders", "fx_rates"]


def spark_cost(work, runs, results):
    """The CDNOW marts on a local Spark: Mallard against dbt-spark (session), and Mallard's
    time against the raw client's for the same statements."""
    spark_root = os.environ.get("MALLARD_SPARK_HOME", os.path.expanduser("~/.cache/mallard/spark"))
    dbt = os.path.join(spark_root, "venv", "bin", "dbt")
    if not os.path.exists(dbt):
        sys.exit("the Spark benchmark needs dbt-spark: bash scripts/spark_parity/record spark_chain installs it")
    project = os.path.join(work, "spark")
    make_project(project, os.path.join(ROOT, "seeds"))
    env = dict(os.environ, MALLARD_SPARK_SCHEMA="bench_mallard")
    select = ["-s"] + CDNOW_MODELS
    run([MALLARD, "seed", "--target", "spark", "-s"] + CDNOW_SEEDS, project, env)
    # dbt-spark's own copy, with its session profile and its own Hive metastore in the folder.
    dbt_project = os.path.join(work, "spark_dbt")
    make_project(dbt_project, os.path.join(ROOT, "seeds"))
    # dbt-spark takes `column_types` as written, and Spark's `varchar` needs a length; Mallard
    # reads the warehouse's DuckDB `VARCHAR` as Spark's `string` itself.
    yml = os.path.join(dbt_project, "dbt_project.yml")
    with open(yml) as f:
        text = f.read()
    with open(yml, "w") as f:
        f.write(text.replace("VARCHAR", "STRING"))
    with open(os.path.join(dbt_project, "profiles.yml"), "w") as f:
        f.write(
            "retention:\n  target: spark\n  outputs:\n    spark:\n      type: spark\n      method: session\n"
            "      host: NA\n      schema: bench_dbt\n      threads: 1\n      server_side_parameters:\n"
            '        spark.ui.enabled: "false"\n'
        )
    dbt_env = dict(os.environ, DBT_SEND_ANONYMOUS_USAGE_STATS="false")
    for j in ["/usr/lib/jvm/java-17-openjdk-amd64", "/usr/lib/jvm/java-17-openjdk-arm64"]:
        if os.path.exists(j):
            dbt_env["JAVA_HOME"] = j
    run([dbt, "seed", "--profiles-dir", ".", "-s"] + CDNOW_SEEDS, dbt_project, dbt_env)
    mallard_secs, dbt_secs = [], []
    for i in range(runs):
        for side in (["mallard", "dbt"] if i % 2 == 0 else ["dbt", "mallard"]):
            if side == "mallard":
                mallard_secs.append(run([MALLARD, "run", "--target", "spark", "--threads", "1"] + select, project, env)[0])
            else:
                dbt_secs.append(run([dbt, "run", "--profiles-dir", "."] + select, dbt_project, dbt_env)[0])
    m, d = summary(mallard_secs), summary(dbt_secs)
    # Overhead per node: the same statements through a raw client.
    log = os.path.join(work, "spark.sql.log")
    own, raw = [], []
    for i in range(runs):
        for side in (["mallard", "raw"] if i % 2 == 0 else ["raw", "mallard"]):
            if side == "mallard":
                if os.path.exists(log):
                    os.remove(log)
                own.append(run([MALLARD, "run", "--target", "spark", "--threads", "1"] + select, project,
                               dict(env, MALLARD_SQL_LOG=log))[0])
            elif os.path.exists(log):
                raw.append(run([SPARK_REPLAY, "sc://127.0.0.1:15002", log], project)[0])
    o, r = summary(own), summary(raw)
    per_node = (o["median"] - r["median"]) / len(CDNOW_MODELS)
    results.append((
        "Spark: the warehouse's CDNOW marts on a local Spark 4.3 (local[2]), 5 models, one thread",
        [
            ("dbt-spark 1.11 run (method: session: starts its own Spark in the process)", fmt(d)),
            ("mallard run (Spark Connect)", fmt(m) + f"; dbt-spark / mallard = {d['median'] / m['median']:.1f}x"),
            ("the same statements from a raw Spark Connect client", fmt(r)),
            ("mallard run, its statements logged", fmt(o) + f"; {o['median'] / r['median']:.2f}x the raw client, "
             f"{per_node:.2f} s per node"),
        ],
    ))


def machine():
    cpu = "unknown CPU"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem = next(l for l in open("/proc/meminfo") if l.startswith("MemTotal")).split()[1]
        mem = f"{int(mem) / 1024 / 1024:.0f} GiB"
    except OSError:
        mem = "unknown memory"
    return f"{os.cpu_count()} cores ({cpu}), {mem}, {platform.system()} {platform.release()}"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5, help="runs per measurement (default 5)")
    ap.add_argument("--max-scale", type=int, default=100, help="largest seed scale for 'data at scale' (default 100)")
    ap.add_argument("--skip-dbt", action="store_true", help="leave out the dbt comparison")
    ap.add_argument("--only-corpus", action="store_true", help="only the public projects against dbt")
    ap.add_argument("--only-logs", action="store_true", help="only the JSON log's cost")
    ap.add_argument("--only-floor", action="store_true", help="only the engine's floor on the public projects")
    ap.add_argument("--only-export", action="store_true", help="only writing the marts to Parquet")
    ap.add_argument("--only-docs", action="store_true", help="only the documentation site")
    ap.add_argument("--only-spark", action="store_true", help="only the Spark engine (needs --features spark and a server)")
    ap.add_argument("--out", default=os.path.join(ROOT, "BENCHMARKS.md"))
    args = ap.parse_args()
    results = []
    if args.only_corpus or args.only_logs or args.only_floor or args.only_export or args.only_docs or args.only_spark:
        with tempfile.TemporaryDirectory(prefix="mallard-bench-") as work:
            if args.only_spark:
                spark_cost(work, max(3, args.runs), results)
            if args.only_docs:
                docs_cost(work, max(5, args.runs), results)
            if args.only_export:
                export_cost(work, 10, max(5, args.runs), results)
            if args.only_floor:
                engine_floor(work, args.runs, results)
            if args.only_logs:
                json_log_cost(work, args.runs, results)
            if args.only_corpus:
                against_dbt_corpus(work, args.runs, results)
        for title, rows in results:
            print(f"## {title}\n\n| what | result |\n|---|---|")
            print("\n".join(f"| {a} | {b} |" for a, b in rows))
        return
    with tempfile.TemporaryDirectory(prefix="mallard-bench-") as work:
        # Compile first: it writes 30,000 small files, and measured after the builds it waited on
        # the writeback of their gigabytes (1,000 models took 2.6 s there, 0.5 s alone).
        parse_and_compile(work, args.runs, results)
        against_the_limit(work, 1, args.runs, results)
        against_the_limit(work, 10, args.runs, results)
        if not args.skip_dbt:
            against_dbt(work, max(3, args.runs // 2), results)
            against_dbt_corpus(work, max(3, args.runs // 2), results)
        engine_floor(work, max(3, args.runs // 2), results)
        big = max(10, args.max_scale)
        data_at_scale(work, [10, big] if big > 10 else [10], max(1, args.runs // 2) if big >= 100 else args.runs, results)
        export_cost(work, 10, max(5, args.runs), results)
        docs_cost(work, max(5, args.runs), results)
        nothing_to_do(work, max(10, args.runs), results)
        json_log_cost(work, max(10, args.runs), results)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    lines = [
        "# Benchmarks",
        "",
        f"Measured {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC on {machine()}, at commit `{commit}`,",
        "by `bash bench/run` (release build). Times are wall-clock medians with (min-max, n = runs);",
        "ratios compare medians taken in this same run.",
        "",
    ]
    for title, rows in results:
        lines += [f"## {title}", "", "| what | result |", "|---|---|"]
        lines += [f"| {a} | {b} |" for a, b in rows]
        lines.append("")
    with open(args.out, "w") as f:
        f.write("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
