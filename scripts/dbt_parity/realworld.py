"""Runs the corpus projects of ../shared/realworld/ through dbt and through Mallard with the
commands of each tests/realworld/<name>/parity.yml, and compares them.

    python realworld.py --record  [NAME ...]   # run dbt, store its results in tests/realworld/<name>/expected/
    python realworld.py --compare [NAME ...]   # run Mallard, compare with the stored results

Each project is copied to a temporary folder (the whole corpus folder, since packages.yml may
say `local: ../`), a profile (`type: duckdb`, `path: <database>`, `threads: 4`) is written to a
folder of its own and passed with `--profiles-dir`, then the steps run in the project folder.
After each step: every relation in digest form (examples/relations.rs, the code tests/realworld.rs uses) and every node's status
(statuses.py) go to expected/step-N.txt and step-N.status.txt.
"""
import argparse, os, shutil, subprocess, sys, tempfile
import yaml

here = os.path.dirname(os.path.abspath(__file__))
repo = os.path.dirname(os.path.dirname(here))
corpus = os.path.join(os.path.dirname(repo), "shared", "realworld")
specs_dir = os.path.join(repo, "tests", "realworld")


def run_project(name, tool, work):
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
        r = subprocess.run(argv, cwd=project, capture_output=True, text=True)
        log = os.path.join(work, f"{tool[-1].split('/')[-1]}-{n}.log")
        open(log, "w").write(r.stdout + r.stderr)
        db = os.path.join(project, spec["database"])
        digest = subprocess.run(
            [RELATIONS[0], "digest", db,
             "--columns-only", *spec.get("columns_only", {}).keys(),
             "--column-order-free", *spec.get("column_order_free", [])],
            capture_output=True, text=True, check=True).stdout if os.path.exists(db) else ""
        results = os.path.join(project, "target", "run_results.json")
        statuses = subprocess.run([sys.executable, os.path.join(here, "statuses.py"), results],
                                  capture_output=True, text=True).stdout if os.path.exists(results) else ""
        statuses = "\n".join(l for l in statuses.splitlines()
                             if not any(s in l for s in spec.get("status_free", []))) + "\n"
        out.append((r.returncode, digest, statuses, log))
    return out


# The relations binary (set by main from --relations).
RELATIONS = [None]


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
            for n, (code, digest, statuses, log) in enumerate(run_project(name, [a.dbt], work), 1):
                open(os.path.join(expected, f"step-{n}.txt"), "w").write(digest)
                open(os.path.join(expected, f"step-{n}.status.txt"), "w").write(statuses)
                open(os.path.join(expected, f"step-{n}.exit.txt"), "w").write(f"{code}\n")
                print(f"{name} step {n}: dbt exit {code}, {len(digest.splitlines())} relations, "
                      f"{len(statuses.splitlines())} nodes")
        if a.compare:
            for n, (code, digest, statuses, log) in enumerate(run_project(name, [a.mallard], work), 1):
                want_d = open(os.path.join(expected, f"step-{n}.txt")).read().splitlines()
                want_s = open(os.path.join(expected, f"step-{n}.status.txt")).read().splitlines()
                got_d, got_s = set(digest.splitlines()), set(statuses.splitlines())
                same_d = sum(1 for l in want_d if l in got_d)
                same_s = sum(1 for l in want_s if l in got_s)
                print(f"{name} step {n}: exit {code}; relations {same_d}/{len(want_d)}; statuses {same_s}/{len(want_s)}  (log {log})")
        if not a.compare:
            shutil.rmtree(work)


main()
