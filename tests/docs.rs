//! `mallard docs`: the catalog against the database, and the site loaded in a real browser
//! (Debian's headless Chromium, which `.ci/run` installs): the page of a model, its lineage
//! graph, search, and no JavaScript error.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::Project;

/// Chromium, which `.ci/run` installs (`apt-get install chromium`).
fn chromium() -> PathBuf {
    let found = ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists());
    found.expect("the docs site is tested in Chromium: install it (`apt-get install chromium`; .ci/run does)")
}

/// The DOM of `url` once its scripts ran, and what the browser logged (console messages and
/// uncaught errors are `CONSOLE` lines).
fn load(url: &str) -> (String, String) {
    let profile = tempfile::tempdir().unwrap();
    let out = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(["--dump-dom", url])
        .output()
        .expect("run chromium");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    (
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

fn console_lines(log: &str) -> Vec<&str> {
    log.lines().filter(|l| l.contains(":CONSOLE")).collect()
}

fn page_url(dir: &Path, file: &str, route: &str) -> String {
    format!("file://{}#!/{route}", dir.join("target").join(file).display())
}

#[test]
fn the_site_shows_a_models_columns_lineage_and_search_in_chromium() {
    let p = Project::warehouse();
    let run = p.run(&["build"]);
    assert_eq!(run.code, 0, "{}", run.text(&p));
    let run = p.run(&["docs", "generate"]);
    assert_eq!(run.code, 0, "{}", run.text(&p));

    let (dom, log) = load(&page_url(
        p.path(),
        "index.html",
        "model.retention.ab_test_performance",
    ));
    assert!(
        console_lines(&log).is_empty(),
        "JavaScript logged: {:?}",
        console_lines(&log)
    );
    assert!(dom.contains("<h1>ab_test_performance</h1>"), "{dom}");
    // Its columns, with the types of the catalog and the descriptions of marts.yml.
    assert!(
        dom.contains(
            "<tr><td>apply_rate</td><td>DOUBLE</td><td><p>applications / users, a fraction.</p></td>"
        ),
        "{dom}"
    );
    // The lineage graph: staging upstream, guardrail_metrics downstream.
    for id in [
        "model.retention.stg_crm__campaign_logs",
        "model.retention.ab_test_performance",
        "model.retention.guardrail_metrics",
    ] {
        assert!(
            dom.contains(&format!("class=\"graph-node\" data-id=\"{id}\"")),
            "{id} not in the graph"
        );
    }

    // Column lineage, from DuckDB's parse of the compiled SQL: on the page and in lineage.json.
    assert!(dom.contains("id=\"column-lineage\""), "{dom}");
    assert!(
        dom.contains("class=\"column-source\" data-id=\"model.retention.stg_crm__campaign_logs\""),
        "the column graph draws the upstream columns: {dom}"
    );
    let lineage: serde_json::Value = serde_json::from_str(&p.read("target/lineage.json")).unwrap();
    let ab = &lineage["nodes"]["model.retention.ab_test_performance"]["columns"];
    assert_eq!(
        ab["ab_group"],
        serde_json::json!({"kind": "transformed", "from": [{"node": "model.retention.stg_crm__campaign_logs", "column": "ab_group"}]}),
        "any_value(ab_group) in a CTE"
    );
    let export = &lineage["nodes"]["model.retention.export_guardrail_metrics"]["columns"];
    assert_eq!(
        export["recipients"],
        serde_json::json!({"kind": "passed through", "from": [{"node": "model.retention.guardrail_metrics", "column": "recipients"}]}),
        "select * from a ref"
    );

    // The project graph filtered by a selector: `+guardrail_metrics` is it and its ancestors;
    // `+guardrail_metrics,tag:marts` only the marts among them.
    let (dom, log) = load(&page_url(p.path(), "index.html", "lineage/%2Bguardrail_metrics"));
    assert!(console_lines(&log).is_empty(), "{log}");
    for (id, present) in [
        ("stg_crm__users", true),
        ("ab_test_performance", true),
        ("ltv", false),
    ] {
        let drawn = dom.contains(&format!("class=\"graph-node\" data-id=\"model.retention.{id}\""));
        assert_eq!(drawn, present, "{id} in the graph of +guardrail_metrics");
    }
    let (dom, _) = load(&page_url(
        p.path(),
        "index.html",
        "lineage/%2Bguardrail_metrics%2Ctag%3Amarts",
    ));
    assert!(dom.contains("class=\"graph-node\" data-id=\"model.retention.ab_test_performance\""));
    assert!(!dom.contains("class=\"graph-node\" data-id=\"model.retention.stg_crm__users\""));

    // `fqn:` by the project's folders, `result:` by the last run (the build passed every node),
    // and a method the site cannot answer is said beside the selector, not read as a name.
    let (dom, log) = load(&page_url(
        p.path(),
        "index.html",
        "lineage/fqn%3Aretention.marts%2Cresult%3Asuccess",
    ));
    assert!(console_lines(&log).is_empty(), "{log}");
    assert!(dom.contains("class=\"graph-node\" data-id=\"model.retention.ltv\""));
    assert!(!dom.contains("class=\"graph-node\" data-id=\"model.retention.stg_crm__users\""));
    let (dom, _) = load(&page_url(p.path(), "index.html", "lineage/state%3Amodified"));
    assert!(
        dom.contains("`state:` compares with a previous manifest"),
        "{dom}"
    );
    assert!(!dom.contains("class=\"graph-node\" data-id=\"model."));

    // A data test's page shows its compiled SQL.
    let test_id = p
        .read("target/manifest.json")
        .split('"')
        .find(|s| s.starts_with("test.retention.not_null_ab_test_performance_"))
        .unwrap()
        .to_string();
    let (dom, _) = load(&page_url(p.path(), "index.html", &test_id));
    assert!(dom.contains("<h2>Compiled</h2>"), "{dom}");

    // Search finds a column by words of its description.
    let (dom, log) = load(&page_url(
        p.path(),
        "index.html",
        "search/applications%20%2F%20users",
    ));
    assert!(console_lines(&log).is_empty(), "{log}");
    assert!(
        dom.contains("data-id=\"model.retention.ab_test_performance\""),
        "{dom}"
    );
    assert!(dom.contains("column apply_rate"), "{dom}");

    // The single-file site shows the same page.
    let run = p.run(&["docs", "generate", "--static", "--no-compile"]);
    assert_eq!(run.code, 0, "{}", run.text(&p));
    let (dom, log) = load(&page_url(
        p.path(),
        "static_index.html",
        "model.retention.guardrail_metrics",
    ));
    assert!(console_lines(&log).is_empty(), "{log}");
    assert!(dom.contains("<h1>guardrail_metrics</h1>"), "{dom}");
}

/// catalog.json lists what the database holds, in dbt's shape, and a description with HTML
/// is shown as text, never run.
#[test]
fn the_catalog_matches_the_database_and_descriptions_cannot_inject_html() {
    let p = Project::fixture("chain");
    let yml = p.read("models/schema.yml").replacen(
        "    description: Orders in dollars.\n",
        "    description: \"<img src=x onerror=alert(1)> **bold** [dbt](https://docs.getdbt.com)\"\n",
        1,
    );
    p.write("models/schema.yml", &yml);
    assert_eq!(p.run(&["build"]).code, 0);
    let run = p.run(&["docs", "generate"]);
    assert_eq!(run.code, 0, "{}", run.text(&p));
    let catalog: serde_json::Value = serde_json::from_str(&p.read("target/catalog.json")).unwrap();
    assert_eq!(
        catalog["metadata"]["dbt_schema_version"],
        "https://schemas.getdbt.com/dbt/catalog/v1.json"
    );
    let node = &catalog["nodes"]["model.shop.stg_orders"];
    assert_eq!(node["metadata"]["type"], "VIEW");
    assert_eq!(node["stats"]["has_stats"]["value"], false);
    let columns: Vec<&str> = node["columns"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let db = p.db("test.duckdb");
    let expected = common::rows(
        &db,
        "select column_name from duckdb_columns() where table_name = 'stg_orders' order by column_index",
    );
    assert_eq!(columns.join("\n"), expected);
    drop(db);

    let (dom, log) = load(&page_url(p.path(), "index.html", "model.shop.stg_orders"));
    assert!(console_lines(&log).is_empty(), "{log}");
    assert!(
        dom.contains("&lt;img src=x onerror=alert(1)&gt; <b>bold</b>"),
        "{dom}"
    );
    assert!(!dom.contains("<img"), "the description's HTML was not escaped");
}

/// A second `docs generate` keeps the lineage of models whose SQL and catalog did not change,
/// and traces again a model whose SQL changed and, when a relation's columns changed, every
/// model: the file is what a first generate would write.
#[test]
fn lineage_is_traced_again_only_where_sql_or_catalog_changed() {
    let p = Project::fixture("chain");
    p.write(
        "models/marts/everything.sql",
        "select * from {{ ref('customer_revenue') }}",
    );
    assert_eq!(p.run(&["build"]).code, 0);
    assert_eq!(p.run(&["docs", "generate"]).code, 0);
    let read = |p: &Project| -> serde_json::Value {
        let mut v: serde_json::Value = serde_json::from_str(&p.read("target/lineage.json")).unwrap();
        v["metadata"] = serde_json::Value::Null;
        v
    };
    let columns = |v: &serde_json::Value, model: &str| -> Vec<String> {
        v["nodes"][format!("model.shop.{model}")]["columns"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect()
    };
    let first = read(&p);
    assert_eq!(columns(&first, "everything"), ["customer", "orders", "revenue"]);
    assert_eq!(p.run(&["docs", "generate"]).code, 0);
    assert_eq!(read(&p), first, "nothing changed");

    // customer_revenue gains a column: its SQL changed, and `everything`'s did not but the
    // catalog's columns of what it reads did.
    let sql = p.read("models/marts/customer_revenue.sql");
    p.write(
        "models/marts/customer_revenue.sql",
        &sql.replace(
            "sum(amount) as revenue",
            "sum(amount) as revenue,\n    max(amount) as largest",
        ),
    );
    assert_eq!(p.run(&["build"]).code, 0);
    assert_eq!(p.run(&["docs", "generate"]).code, 0);
    let second = read(&p);
    assert_eq!(
        columns(&second, "customer_revenue"),
        ["customer", "orders", "revenue", "largest"]
    );
    assert_eq!(
        columns(&second, "everything"),
        ["customer", "orders", "revenue", "largest"]
    );
    std::fs::remove_file(p.path().join("target/lineage.json")).unwrap();
    assert_eq!(p.run(&["docs", "generate"]).code, 0);
    assert_eq!(read(&p), second, "the same as traced from nothing");
}

/// `docs serve` serves the target folder on 127.0.0.1 and refuses a port in use clearly.
#[test]
fn docs_serve_serves_the_site_and_names_a_port_in_use() {
    let p = Project::fixture("chain");
    assert_eq!(p.run(&["docs", "generate", "--empty-catalog"]).code, 0);
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port();
    let run = p.run(&["docs", "serve", "--no-browser", "--port", &port.to_string()]);
    assert_eq!(run.code, 2, "{}", run.text(&p));
    assert!(
        run.text(&p)
            .contains(&format!("cannot serve the documentation on 127.0.0.1:{port}")),
        "{}",
        run.text(&p)
    );
    drop(busy);

    let mut server = Command::new(env!("CARGO_BIN_EXE_mallard"))
        .args(["docs", "serve", "--no-browser", "--port", &port.to_string()])
        .current_dir(p.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}/");
    let mut body = None;
    for _ in 0..100 {
        if let Ok(mut r) = ureq::get(&url).call() {
            body = Some(r.body_mut().read_to_string().unwrap());
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let missing = ureq::get(&format!("{url}../profiles.yml")).call();
    server.kill().unwrap();
    server.wait().unwrap();
    assert!(body
        .expect("the server answered")
        .contains("mallard_docs_data.js"));
    assert!(missing.is_err(), "a file outside the target folder was served");
}

/// A project too large for one drawing (450 models in a chain): the project graph asks for a
/// selection instead of drawing a wall of boxes, and a selection draws.
#[test]
fn a_large_projects_graph_asks_for_a_selection() {
    let p = Project::fixture("chain");
    for i in 0..450 {
        let sql = if i == 0 {
            "select 1 as id".to_string()
        } else {
            format!("select id from {{{{ ref('big_{}') }}}}", i - 1)
        };
        p.write(&format!("models/big/big_{i}.sql"), &sql);
    }
    let run = p.run(&["docs", "generate", "--empty-catalog"]);
    assert_eq!(run.code, 0, "{}", run.text(&p));
    let (dom, log) = load(&page_url(p.path(), "index.html", "lineage"));
    assert!(console_lines(&log).is_empty(), "{log}");
    assert!(
        dom.contains("nodes are more than one drawing shows readably (400)"),
        "{dom}"
    );
    let (dom, _) = load(&page_url(p.path(), "index.html", "model.shop.big_200"));
    assert_eq!(
        dom.matches("class=\"graph-node\" data-id=\"model.shop.big_")
            .count(),
        5,
        "two up, itself, two down"
    );
}
