"""Runs the corpus projects of ../shared/realworld/ through dbt and through Mallard with the
commands of each tests/realworld/<name>/parity.yml, and compares them.

    python realworld.py --record  [NAME ...]   # run dbt, store its results in tests/realworld/<name>/expected/
    python realworld.py --compare [NAME ...]   # run Mallard, compare with the stored results

Each project is copied to a temporary folder (the whole corpus folder, since packages.yml may
say `local: ../`), a profile (`type: duckdb`, `path: <database>`, `threads: 4`) is written to a
folder of its own and passed with `--profiles-dir`, then the steps run in the project folder.
After each step: every relation in digest form (examples/relations.rs, the code tests/realworld.rs uses) and every node's status
(statuses.py) go to expected/step-N.txt and step-N.status.txt.

The clock. Every process of a step (dbt's when recording, Mallard's when comparing) starts with
its clock at one recorded instant, CLOCK below, stored in expected/clock.txt: libfaketime
(Debian's package `faketime`) is preloaded with FAKETIME="@<instant>", so the clock starts there
and runs on. A relation computed from the date (`current_date`, `dbt_date.today()`, a spine up
to today) is then the same on any day. What still moves is found by a rule, not a list: dbt runs
every step twice, the second time with its clock started one second later (CLOCK_AGAIN), and a
relation whose rows differ between the two runs (it reads the time of day, even at one-second
resolution, `now()`, `run_started_at`, or `random()`) is recorded with `rows=*`: compared by
its columns and types only. (With both runs from the same instant, a time of day read in an
on-run-end hook matched between dbt's two runs, which take the same time, and not Mallard's.) The databases are read (examples/relations) with the
clock started at the same instant: a view over `now()` is evaluated when it is read.
"""
import argparse, os, re, shutil, subprocess, sys, tempfile
import yaml

here = os.path.dirname(os.path.abspath(__file__))
repo = os.path.dirname(os.path.dirname(here))
corpus = os.path.join(os.path.dirname(repo), "shared", "realworld")
specs_dir = os.path.join(repo, "tests", "realworld")


# The instant every step's clock starts at when recording (noon in America/Los_Angeles, so a
# run crosses no date line in the time zones the corpus uses).
CLOCK = "2026-12-07 20:00:00"
# The instant the second recording run's clock starts at (see the module's doc).
CLOCK_AGAIN = "2026-12-07 20:00:01"

FAKETIME_LIBS = ["/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1",
                 "/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1",
                 "/usr/lib/faketime/libfaketime.so.1"]


def clock_env(instant):
    """The environment that starts a process's clock at `instant` (UTC, `YYYY-MM-DD HH:MM:SS`)."""
    lib = next((l for l in FAKETIME_LIBS if os.path.exists(l)), None)
    if lib is None:
        sys.exit("realworld.py: libfaketime is needed to replay the recorded clock: apt-get install faketime")
    return dict(os.environ, LD_PRELOAD=lib, FAKETIME="@" + instant, TZ="UTC", NO_FAKE_STAT="1")


def run_project(name, tool, work, columns_only=None):
    spec = yaml.safe_load(open(os.path.join(specs_dir, name, "parity.yml")))
    top = spec["project"].split("/")[0]
    shutil.copytree(os.path.join(corpus, top), os.path.join(work, top), symlinks=True)
    project = os.path.join(work, spec["project"])
    profiles = os.path.join(work, "profiles")
    os.makedirs(profiles, exist_ok=True)
    with open(os.path.join(profiles, "profiles.yml"), "w") as f:
        yaml.safe_dump({spec["profile"]: {"target": "dev", "outputs": {"dev": {
            "type": "duckdb", "path": spec["database"], "threads": 4}}}}, f)
    out = []
    for n, step in enumerate(spec["steps"], 1):
        results = os.path.join(project, "target", "run_results.json")
        if os.path.exists(results):
            os.remove(results)
        argv = tool + [str(a) for a in step] + ["--profiles-dir", profiles]
        r = subprocess.run(argv, cwd=project, capture_output=True, text=True, env=ENV[0])
        log = os.path.join(work, f"{tool[-1].split('/')[-1]}-{n}.log")
        open(log, "w").write(r.stdout + r.stderr)
        db = os.path.join(project, spec["database"])
        digest = subprocess.run(
            [RELATIONS[0], "digest", db,
             "--columns-only", *(columns_only[n - 1] if columns_only else []),
             "--column-order-free", *spec.get("column_order_free", [])],
            capture_output=True, text=True, check=True, env=ENV[0]).stdout if os.path.exists(db) else ""
        results = os.path.join(project, "target", "run_results.json")
        statuses = subprocess.run([sys.executable, os.path.join(here, "statuses.py"), results],
                                  capture_output=True, text=True).stdout if os.path.exists(results) else ""
        statuses = "\n".join(l for l in statuses.splitlines()
                             if not any(s in l for s in spec.get("status_free", []))) + "\n"
        out.append((r.returncode, digest, statuses, log))
    return out


# The relations binary (set by main from --relations), and the steps' environment.
RELATIONS = [None]
ENV = [None]


def moving(digest):
    """The relations of a digest recorded with `rows=*`."""
    return [l.split(" ")[0].split(".", 1)[1] for l in digest.splitlines() if " | rows=*" in l]


def merge_runs(first, second):
    """The first run's digest, with `rows=*` for each relation whose line differs in the second."""
    other = {l.split(" ")[0]: l for l in second.splitlines()}
    out = []
    for line in first.splitlines():
        if other.get(line.split(" ")[0], line) != line:
            line = re.sub(r" \| rows=\d+ md5=[0-9a-f]+", " | rows=*", line)
        out.append(line)
    return "".join(l + "\n" for l in out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--record", action="store_true")
    ap.add_argument("--compare", action="store_true")
    ap.add_argument("--dbt", default=shutil.which("dbt"))
    ap.add_argument("--mallard")
    ap.add_argument("--relations", help="the examples/relations binary that prints a database's digest")
    ap.add_argument("names", nargs="*")
    a = ap.parse_args()
    RELATIONS[0] = a.relations
    names = a.names or sorted(d for d in os.listdir(specs_dir) if os.path.isdir(os.path.join(specs_dir, d)))
    for name in names:
        work = tempfile.mkdtemp(prefix=f"rw-{name}-")
        expected = os.path.join(specs_dir, name, "expected")
        if a.record:
            os.makedirs(expected, exist_ok=True)
            open(os.path.join(expected, "clock.txt"), "w").write(CLOCK + "\n")
            again_work = tempfile.mkdtemp(prefix=f"rw-{name}-again-")
            ENV[0] = clock_env(CLOCK_AGAIN)
            again = run_project(name, [a.dbt], again_work)
            ENV[0] = clock_env(CLOCK)
            for n, (code, digest, statuses, log) in enumerate(run_project(name, [a.dbt], work), 1):
                digest = merge_runs(digest, again[n - 1][1])
                open(os.path.join(expected, f"step-{n}.txt"), "w").write(digest)
                open(os.path.join(expected, f"step-{n}.status.txt"), "w").write(statuses)
                open(os.path.join(expected, f"step-{n}.exit.txt"), "w").write(f"{code}\n")
                print(f"{name} step {n}: dbt exit {code}, {len(digest.splitlines())} relations, "
                      f"{len(statuses.splitlines())} nodes")
        if a.compare:
            ENV[0] = clock_env(open(os.path.join(expected, "clock.txt")).read().strip())
            steps = sorted(f for f in os.listdir(expected) if f.endswith(".txt") and f.count(".") == 1 and f.startswith("step-"))
            still = [moving(open(os.path.join(expected, f"step-{n}.txt")).read()) for n in range(1, len(steps) + 1)]
            for n, (code, digest, statuses, log) in enumerate(run_project(name, [a.mallard], work, still), 1):
                want_d = open(os.path.join(expected, f"step-{n}.txt")).read().splitlines()
                want_s = open(os.path.join(expected, f"step-{n}.status.txt")).read().splitlines()
                got_d, got_s = set(digest.splitlines()), set(statuses.splitlines())
                same_d = sum(1 for l in want_d if l in got_d)
                same_s = sum(1 for l in want_s if l in got_s)
                print(f"{name} step {n}: exit {code}; relations {same_d}/{len(want_d)}; statuses {same_s}/{len(want_s)}  (log {log})")
        if not a.compare:
            shutil.rmtree(work)
            if a.record:
                shutil.rmtree(again_work)


main()
