//! The Spark engine, on a local Spark Connect server (`bash scripts/spark-server start`, which
//! `scripts/test` runs): the chain fixture builds there with the numbers it has on DuckDB, a
//! failing table model leaves the previous table readable, a run killed between the two
//! renames of a table swap is repaired by the next, and bad targets are clear errors.
#![cfg(feature = "spark")]
// The Spark client's error type is large; these tests only read its message.
#![allow(clippy::result_large_err)]

mod common;

use std::time::{Duration, Instant};

use common::Project;
use spark_connect::row::Value;
use spark_connect::session::SparkSession;

/// The port of the test server (`SPARK_CONNECT_PORT`, as scripts/spark-server reads it).
fn port() -> u16 {
    std::env::var("SPARK_CONNECT_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(15002)
}

fn spark() -> SparkSession {
    SparkSession::builder()
        .remote(&format!("sc://127.0.0.1:{}", port()))
        .get_or_create()
        .expect("the Spark tests need a Spark Connect server: `bash scripts/spark-server start`")
}

/// A schema name no other test run uses.
fn fresh_schema(name: &str) -> String {
    format!("mallard_{name}_{}_{}", std::process::id(), rand_suffix())
}

fn rand_suffix() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos()
        % 100_000
}

/// Points `project` at the Spark test server, building into `schema`.
fn on_spark(project: &Project, schema: &str) {
    project.write(
        "profiles.yml",
        &format!(
            "fixture:\n  target: spark\n  outputs:\n    spark:\n      type: spark\n      method: connect\n      host: 127.0.0.1\n      port: {}\n      schema: {schema}\n      threads: 2\n",
            port()
        ),
    );
}

/// A value as text that reads the same from both engines: numbers by their value (Spark's
/// `12.500000` decimal and DuckDB's `12.5` double are both `12.5`), dates as ISO text.
fn normalized(text: &str) -> String {
    match text.parse::<f64>() {
        Ok(f) => format!("{}", (f * 1e9).round() / 1e9),
        Err(_) => text.to_string(),
    }
}

fn spark_text(v: &Value) -> String {
    match v {
        Value::Null => "NULL".into(),
        Value::Bool(b) => b.to_string(),
        Value::Byte(n) => n.to_string(),
        Value::Short(n) => n.to_string(),
        Value::Integer(n) => n.to_string(),
        Value::Long(n) => n.to_string(),
        Value::Float(f) => f.to_string(),
        Value::Double(f) => f.to_string(),
        Value::String(s) => s.clone(),
        Value::Decimal { value, .. } => value.clone(),
        Value::Date(days) => (chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap()
            + chrono::Duration::days(*days as i64))
        .to_string(),
        other => format!("{other:?}"),
    }
}

/// The rows of `relation` on Spark, each a line of normalized values, sorted.
fn spark_rows(spark: &SparkSession, relation: &str) -> Vec<String> {
    // Spark keeps a session's listing of a table's files until told otherwise: a reader that
    // read the table before a build replaced it must `refresh table` (as under dbt-spark,
    // whose drop and create leave readers the same stale listing).
    let _ = spark
        .sql(&format!("refresh table {relation}"))
        .and_then(|df| df.collect());
    let rows = spark
        .sql(&format!("select * from {relation}"))
        .and_then(|df| df.collect())
        .unwrap_or_else(|e| panic!("read {relation} on Spark: {e}"));
    let mut lines: Vec<String> = rows
        .iter()
        .map(|r| {
            r.values()
                .iter()
                .map(|v| normalized(&spark_text(v)))
                .collect::<Vec<_>>()
                .join("|")
        })
        .collect();
    lines.sort();
    lines
}

/// The rows of `relation` in DuckDB database `db`, as [`spark_rows`] gives them.
fn duckdb_rows(db: &duckdb::Connection, relation: &str) -> Vec<String> {
    let columns: Vec<String> = {
        let mut stmt = db.prepare(&format!("describe {relation}")).unwrap();
        stmt.query_map([], |r| r.get::<_, String>(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    let text: Vec<String> = columns
        .iter()
        .map(|c| format!("coalesce(cast(\"{c}\" as varchar), 'NULL')"))
        .collect();
    let mut stmt = db
        .prepare(&format!("select {} from {relation}", text.join(", ")))
        .unwrap();
    let mut lines: Vec<String> = stmt
        .query_map([], |r| {
            Ok((0..columns.len())
                .map(|i| normalized(&r.get::<_, String>(i).unwrap()))
                .collect::<Vec<_>>()
                .join("|"))
        })
        .unwrap()
        .map(Result::unwrap)
        .collect();
    lines.sort();
    lines
}

/// The names of the tables and views of `schema` on Spark.
fn spark_tables(spark: &SparkSession, schema: &str) -> Vec<String> {
    spark
        .sql(&format!("show tables in {schema}"))
        .and_then(|df| df.collect())
        .unwrap()
        .iter()
        .map(|r| spark_text(&r.values()[1]))
        .collect()
}

/// Every relation of the schemas `schema*` on Spark in the form of
/// `scripts/spark_parity/record` (the schema written `{schema}`): name, columns and types,
/// sorted rows.
fn spark_dump(spark: &SparkSession, schema: &str) -> String {
    let mut schemas: Vec<String> = spark
        .sql("show databases")
        .and_then(|df| df.collect())
        .unwrap()
        .iter()
        .map(|r| spark_text(&r.values()[0]))
        .filter(|s| s.starts_with(schema))
        .collect();
    schemas.sort();
    let mut sections = Vec::new();
    for s in &schemas {
        let mut tables = spark_tables(spark, s);
        tables.sort();
        for t in tables {
            let relation = format!("{s}.{t}");
            let mut text = format!("## {{schema}}{}.{t}\n", &s[schema.len()..]);
            for r in spark
                .sql(&format!("describe table {relation}"))
                .and_then(|df| df.collect())
                .unwrap()
            {
                let name = spark_text(&r.values()[0]);
                if name.is_empty() || name.starts_with('#') {
                    break;
                }
                text.push_str(&format!("{name} {}\n", spark_text(&r.values()[1])));
            }
            text.push_str("--\n");
            for row in spark_rows(spark, &relation) {
                text.push_str(&row);
                text.push('\n');
            }
            sections.push(text);
        }
    }
    sections.join("\n")
}

fn drop_schemas(spark: &SparkSession, schema: &str) {
    for s in [
        schema.to_string(),
        format!("{schema}_marts"),
        format!("{schema}_reports"),
        format!("{schema}_dbt_test__audit"),
    ] {
        let _ = spark
            .sql(&format!("drop schema if exists {s} cascade"))
            .and_then(|df| df.collect());
    }
}

#[test]
fn the_chain_builds_on_spark_as_dbt_spark_builds_it_with_the_numbers_it_has_on_duckdb() {
    // tests/fixtures/spark_chain: a seed with `column_types`, views, tables, an ephemeral
    // model, an incremental model, a model with hooks and `run_query`, one that asks
    // `adapter.get_relation` and `get_columns_in_relation`, data tests and a unit test.
    let on_duckdb = Project::fixture("spark_chain");
    let run = on_duckdb.run(&["build"]);
    assert_eq!(run.code, 0, "{}", run.text(&on_duckdb));

    let p = Project::fixture("spark_chain");
    let schema = fresh_schema("chain");
    on_spark(&p, &schema);
    let spark = spark();
    let debug = p.run(&["debug"]);
    assert_eq!(debug.code, 0, "{}", debug.text(&p));
    assert!(
        debug
            .stdout
            .contains(&format!("spark connect: 127.0.0.1:{}: OK", port())),
        "{}",
        debug.text(&p)
    );
    // `compile --inline` reads the Spark target (it had no connection there).
    let inline = p.run(&[
        "compile",
        "--inline",
        "select {{ run_query('select 41 + 1 as n').columns[0].values()[0] }} as n",
    ]);
    assert_eq!(inline.code, 0, "{}", inline.text(&p));
    assert!(inline.stdout.contains("select 42 as n"), "{}", inline.text(&p));
    let run = p.run(&["build"]);
    assert_eq!(run.code, 0, "{}", run.text(&p));
    assert!(run.stdout.contains("PASS=14"), "{}", run.text(&p));

    // What dbt-spark builds from the same project on the same Spark (recorded by
    // scripts/spark_parity/record): the same relations, column types and rows.
    let recorded = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/spark_chain/expected/spark.txt"),
    )
    .unwrap();
    assert_eq!(spark_dump(&spark, &schema), recorded);

    // The numbers DuckDB gives for the same project.
    let db = on_duckdb.db("test.duckdb");
    let pairs = [
        ("main.raw_orders", format!("{schema}.raw_orders")),
        ("main.stg_orders", format!("{schema}.stg_orders")),
        (
            "main_marts.customer_revenue",
            format!("{schema}_marts.customer_revenue"),
        ),
        ("main_marts.shipped", format!("{schema}_marts.shipped")),
        ("main_marts.orders_log", format!("{schema}_marts.orders_log")),
        ("main_marts.hook_log", format!("{schema}_marts.hook_log")),
        (
            "main_marts.relation_facts",
            format!("{schema}_marts.relation_facts"),
        ),
        (
            "main_reports.top_customer",
            format!("{schema}_reports.top_customer"),
        ),
    ];
    for (duck, sp) in &pairs {
        let expected = duckdb_rows(&db, duck);
        assert!(!expected.is_empty(), "{duck} has rows");
        assert_eq!(spark_rows(&spark, sp), expected, "{sp} against DuckDB's {duck}");
    }

    // A second build replaces every table by the swap and gives the same rows (the
    // incremental model adds none, the hook logs a second line), with no staging table left.
    drop(db);
    let run = p.run(&["build"]);
    assert_eq!(run.code, 0, "{}", run.text(&p));
    let run = on_duckdb.run(&["build"]);
    assert_eq!(run.code, 0, "{}", run.text(&on_duckdb));
    let db = on_duckdb.db("test.duckdb");
    for (duck, sp) in &pairs {
        assert_eq!(spark_rows(&spark, sp), duckdb_rows(&db, duck), "{sp} rebuilt");
    }
    let left = spark_tables(&spark, &format!("{schema}_marts"));
    assert!(left.iter().all(|t| !t.contains("__mallard_")), "{left:?}");

    // docs generate reads Spark's catalog: each relation's columns with Spark's types.
    let run = p.run(&["docs", "generate"]);
    assert_eq!(run.code, 0, "{}", run.text(&p));
    let catalog: serde_json::Value = serde_json::from_str(&p.read("target/catalog.json")).unwrap();
    let amount = &catalog["nodes"]["model.shop.stg_orders"]["columns"]["amount"];
    assert_eq!(amount["type"], "decimal(27,6)", "{catalog}");

    // Snapshots are not built on Spark yet: a clear error, nothing changed.
    p.write(
        "snapshots/orders_snapshot.sql",
        "{% snapshot orders_snapshot %}\n{{ config(target_schema=target.schema, unique_key='order_id', strategy='check', check_cols='all') }}\nselect * from {{ ref('stg_orders') }}\n{% endsnapshot %}\n",
    );
    let run = p.run(&["snapshot"]);
    assert_eq!(run.code, 1, "{}", run.text(&p));
    assert!(
        run.stdout
            .contains("snapshots are not supported on this engine by Mallard yet"),
        "{}",
        run.text(&p)
    );
    assert!(!spark_tables(&spark, &schema).contains(&"orders_snapshot".to_string()));
    drop_schemas(&spark, &schema);
}

/// Whether two sorted row lists hold the same values, numbers equal to 9 significant digits
/// (Spark computes in decimals where DuckDB uses doubles).
fn same_numbers(spark: &[String], duckdb: &[String]) -> Result<(), String> {
    if spark.len() != duckdb.len() {
        return Err(format!(
            "{} rows on Spark, {} on DuckDB",
            spark.len(),
            duckdb.len()
        ));
    }
    for (a, b) in spark.iter().zip(duckdb) {
        let (fa, fb): (Vec<&str>, Vec<&str>) = (a.split('|').collect(), b.split('|').collect());
        let same = fa.len() == fb.len()
            && fa
                .iter()
                .zip(&fb)
                .all(|(x, y)| match (x.parse::<f64>(), y.parse::<f64>()) {
                    (Ok(x), Ok(y)) => (x - y).abs() <= 1e-9 * x.abs().max(y.abs()).max(1.0),
                    _ => x == y,
                });
        if !same {
            return Err(format!("Spark `{a}` against DuckDB `{b}`"));
        }
    }
    Ok(())
}

/// The warehouse's CDNOW marts (`order_cohorts`, `ltv`, `rfm_segments`) and their staging,
/// whose SQL differs between the engines only through `adapter.dispatch` macros
/// (`macros/cross_engine.sql`, dbt's `datediff` and `type_string`), give the same numbers on
/// Spark as on DuckDB.
#[test]
fn the_cdnow_marts_have_the_same_numbers_on_spark_as_on_duckdb() {
    let p = Project::warehouse();
    let marts = ["+ltv", "+rfm_segments"];
    let run = p.run(&["build", "-s", marts[0], marts[1]]);
    assert_eq!(run.code, 0, "{}", run.text(&p));
    let schema = fresh_schema("cdnow");
    let env = [
        ("MALLARD_SPARK_SCHEMA", schema.as_str()),
        ("MALLARD_SPARK_PORT", &port().to_string()),
    ];
    let run = p.run_with_env(&["build", "--target", "spark", "-s", marts[0], marts[1]], &env);
    assert_eq!(run.code, 0, "{}", run.text(&p));
    let spark = spark();
    let db = p.db("retention.duckdb");
    for model in ["stg_cdnow__transactions", "order_cohorts", "ltv", "rfm_segments"] {
        let on_duckdb = duckdb_rows(&db, &format!("main.{model}"));
        assert!(on_duckdb.len() > 10, "{model}: {} rows", on_duckdb.len());
        let on_spark = spark_rows(&spark, &format!("{schema}.{model}"));
        if let Err(e) = same_numbers(&on_spark, &on_duckdb) {
            panic!("{model}: {e}");
        }
    }
    drop_schemas(&spark, &schema);
}

#[test]
fn a_failing_table_model_leaves_the_previous_table_and_a_killed_swap_is_repaired() {
    let p = Project::fixture("chain");
    let schema = fresh_schema("swap");
    on_spark(&p, &schema);
    let spark = spark();
    assert_eq!(p.run(&["build"]).code, 0);
    let table = format!("{schema}_marts.customer_revenue");
    let before = spark_rows(&spark, &table);

    // A model that fails on Spark: the error names the model, and the table is as it was.
    let good = p.read("models/marts/customer_revenue.sql");
    p.write(
        "models/marts/customer_revenue.sql",
        &good.replace("sum(amount) as revenue", "sum(no_such_column) as revenue"),
    );
    let run = p.run(&["run", "-s", "customer_revenue"]);
    assert_eq!(run.code, 1, "{}", run.text(&p));
    assert!(run.stdout.contains("no_such_column"), "{}", run.text(&p));
    // Spark's `line N pos M` of the statement, placed in the model's file.
    assert!(
        run.stdout
            .contains("error at models/marts/customer_revenue.sql:5"),
        "{}",
        run.text(&p)
    );
    assert_eq!(spark_rows(&spark, &table), before);
    // A DuckDB-only function: Spark's error, at the model's line.
    p.write(
        "models/marts/customer_revenue.sql",
        &good.replace("count(*) as orders", "strftime(max(ordered_on), '%Y') as orders"),
    );
    let run = p.run(&["run", "-s", "customer_revenue"]);
    assert_eq!(run.code, 1, "{}", run.text(&p));
    assert!(run.stdout.contains("UNRESOLVED_ROUTINE"), "{}", run.text(&p));
    assert!(
        run.stdout
            .contains("error at models/marts/customer_revenue.sql:4"),
        "{}",
        run.text(&p)
    );
    assert_eq!(spark_rows(&spark, &table), before);

    // A run killed between the two renames leaves the previous table under `__mallard_old`
    // and none under the name: the next build puts it back, then replaces it.
    p.write("models/marts/customer_revenue.sql", &good);
    spark
        .sql(&format!(
            "alter table {table} rename to {schema}_marts.customer_revenue__mallard_old"
        ))
        .and_then(|df| df.collect())
        .unwrap();
    let run = p.run(&["run", "-s", "customer_revenue"]);
    assert_eq!(run.code, 0, "{}", run.text(&p));
    assert_eq!(spark_rows(&spark, &table), before);
    let left = spark_tables(&spark, &format!("{schema}_marts"));
    assert!(left.iter().all(|t| !t.contains("__mallard_")), "{left:?}");

    // `merge` on parquet tables is refused before anything changes.
    p.write(
        "models/marts/merged.sql",
        "{{ config(materialized='incremental', incremental_strategy='merge', unique_key='customer') }}\nselect customer, revenue from {{ ref('customer_revenue') }}\n",
    );
    assert_eq!(
        p.run(&["run", "-s", "merged"]).code,
        0,
        "the first build is a table"
    );
    let run = p.run(&["run", "-s", "merged"]);
    assert_eq!(run.code, 1, "{}", run.text(&p));
    assert!(
        run.stdout.contains("incremental_strategy `merge` needs `merge`")
            && run.stdout.contains("file_format: delta"),
        "{}",
        run.text(&p)
    );
    drop_schemas(&spark, &schema);
}

/// A seed column of numbers with decimals is inferred as DuckDB's `float8`, which Spark has
/// not: it is created as `double`, as dbt-spark creates it.
#[test]
fn a_seed_with_decimals_loads_as_double() {
    let p = Project::fixture("chain");
    let schema = fresh_schema("decimals");
    on_spark(&p, &schema);
    p.write("seeds/rates.csv", "id,rate\n1,1.5\n2,2.25\n");
    let run = p.run(&["seed", "-s", "rates"]);
    assert_eq!(run.code, 0, "{}", run.text(&p));
    let spark = spark();
    let dump = spark_dump(&spark, &schema);
    assert!(dump.contains("rate double\n"), "{dump}");
    drop_schemas(&spark, &schema);
}

#[test]
fn incremental_append_adds_only_new_rows_and_insert_overwrite_replaces_them_on_spark() {
    let p = Project::fixture("chain");
    let schema = fresh_schema("append");
    on_spark(&p, &schema);
    let spark = spark();
    p.write(
        "models/orders_log.sql",
        "{{ config(materialized='incremental') }}\nselect order_id, amount from {{ ref('stg_orders') }}\n{% if is_incremental() %}where order_id > (select max(order_id) from {{ this }}){% endif %}\n",
    );
    // insert_overwrite without partition_by replaces the whole table with the increment.
    p.write(
        "models/latest_placed.sql",
        "{{ config(materialized='incremental', incremental_strategy='insert_overwrite') }}\nselect order_id, customer from {{ ref('stg_orders') }} where status = 'placed'\n",
    );
    // With partition_by, only the partitions the increment falls in are replaced.
    p.write(
        "models/by_customer.sql",
        "{{ config(materialized='incremental', incremental_strategy='insert_overwrite', partition_by='customer') }}\nselect order_id, customer from {{ ref('stg_orders') }}\n{% if is_incremental() %}where customer = 'dee'{% endif %}\n",
    );
    assert_eq!(p.run(&["seed"]).code, 0);
    let run = p.run(&["run", "-s", "+orders_log", "latest_placed", "by_customer"]);
    assert_eq!(run.code, 0, "{}", run.text(&p));
    assert_eq!(spark_rows(&spark, &format!("{schema}.latest_placed")), ["4|cid"]);
    let first = spark_rows(&spark, &format!("{schema}.orders_log"));
    let csv = p.read("seeds/raw_orders.csv");
    p.write(
        "seeds/raw_orders.csv",
        &format!("{csv}99,dee,1000,2024-03-01,placed\n"),
    );
    assert_eq!(p.run(&["seed"]).code, 0);
    let run = p.run(&["run", "-s", "+orders_log"]);
    assert_eq!(run.code, 0, "{}", run.text(&p));
    let second = spark_rows(&spark, &format!("{schema}.orders_log"));
    assert_eq!(second.len(), first.len() + 1, "{second:?}");
    assert!(second.contains(&"99|10".to_string()), "{second:?}");
    let run = p.run(&["run", "-s", "latest_placed"]);
    assert_eq!(run.code, 0, "{}", run.text(&p));
    assert_eq!(
        spark_rows(&spark, &format!("{schema}.latest_placed")),
        ["4|cid", "99|dee"]
    );
    let run = p.run(&["run", "-s", "by_customer"]);
    assert_eq!(run.code, 0, "{}", run.text(&p));
    assert_eq!(
        spark_rows(&spark, &format!("{schema}.by_customer")),
        ["1|ann", "2|bob", "3|ann", "4|cid", "99|dee"]
    );
    let partitions: Vec<String> = spark
        .sql(&format!("show partitions {schema}.by_customer"))
        .and_then(|df| df.collect())
        .unwrap()
        .iter()
        .map(|r| spark_text(&r.values()[0]))
        .collect();
    assert_eq!(
        partitions,
        ["customer=ann", "customer=bob", "customer=cid", "customer=dee"]
    );
    drop_schemas(&spark, &schema);
}

/// `source freshness` and a data test storing its failures run on Spark, each twice: the
/// freshness query is the engine's (DuckDB's `epoch()` is not Spark's), and the audit table is
/// dropped and created again (Spark refuses `create or replace table` on parquet tables).
#[test]
fn source_freshness_and_stored_failures_run_on_spark() {
    let p = Project::fixture("chain");
    let schema = fresh_schema("fresh");
    on_spark(&p, &schema);
    p.write(
        "models/events.sql",
        "select 1 as id, current_timestamp() as loaded_at\n",
    );
    p.write("models/failing.sql", "select cast(null as int) as id\n");
    p.write(
        "models/freshness.yml",
        &format!(
            "sources:\n  - name: raw\n    schema: {schema}\n    tables:\n      - name: events\n        loaded_at_field: loaded_at\n        freshness:\n          warn_after: {{count: 1, period: hour}}\nmodels:\n  - name: failing\n    data_tests:\n      - not_null:\n          column_name: id\n          config:\n            store_failures: true\n"
        ),
    );
    let spark = spark();
    for _ in 0..2 {
        let run = p.run(&["build", "--select", "events", "failing+"]);
        assert_eq!(run.code, 1, "{}", run.text(&p));
        assert!(
            run.stdout.contains("FAIL 1 not_null_failing_id"),
            "{}",
            run.text(&p)
        );
        let fresh = p.run(&["source", "freshness"]);
        assert_eq!(fresh.code, 0, "{}", fresh.text(&p));
        assert!(
            fresh.stdout.contains("PASS freshness of raw.events"),
            "{}",
            fresh.text(&p)
        );
    }
    let audit = spark_rows(
        &spark,
        &format!("`{schema}_dbt_test__audit`.`not_null_failing_id`"),
    );
    assert_eq!(audit.len(), 1, "{audit:?}");
    drop_schemas(&spark, &schema);
}

#[test]
fn an_unreachable_server_is_a_clear_error_within_the_connect_timeout() {
    let p = Project::fixture("chain");
    // A port nothing listens on: bound, then released.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    p.write(
        "profiles.yml",
        &format!("fixture:\n  target: s\n  outputs:\n    s:\n      type: spark\n      method: connect\n      host: 127.0.0.1\n      port: {port}\n      schema: x\n      connect_timeout: 3\n"),
    );
    let started = Instant::now();
    let run = p.run(&["run"]);
    assert_eq!(run.code, 2, "{}", run.text(&p));
    assert!(started.elapsed() < Duration::from_secs(10));
    // `debug` connects to the server (it printed "database: in memory: OK" without trying).
    let debug = p.run(&["debug"]);
    assert_eq!(debug.code, 1, "{}", debug.text(&p));
    assert!(
        debug
            .stdout
            .contains(&format!("spark connect: 127.0.0.1:{port}: FAILED")),
        "{}",
        debug.text(&p)
    );
    let text = run.text(&p);
    assert!(
        text.contains(&format!(
            "cannot reach the Spark Connect server at 127.0.0.1:{port}"
        )),
        "{text}"
    );
    assert!(text.contains("profiles.yml:"), "{text}");

    // dbt-spark's thrift method is not Spark Connect.
    p.write(
        "profiles.yml",
        "fixture:\n  target: s\n  outputs:\n    s:\n      type: spark\n      method: thrift\n      host: h\n      schema: x\n",
    );
    let run = p.run(&["run"]);
    assert_eq!(run.code, 2, "{}", run.text(&p));
    assert!(
        run.text(&p).contains("`method: thrift` is not supported"),
        "{}",
        run.text(&p)
    );
}
