//! The keys of a `type: spark` target in `profiles.yml`: dbt-spark's, for the one method
//! Mallard speaks, Spark Connect (`method: connect`). Every key is read, refused with a reason,
//! or an error with a did-you-mean: none is ignored silently.

use std::time::Duration;

use anyhow::Result;
use serde_json::{Map, Value};

use super::duckdb_profile::Locator;
use crate::config::connection::SparkConnect;
use crate::error::{did_you_mean, Diagnostic};

/// The keys Mallard reads from a Spark target.
const KEYS: &[&str] = &[
    "type",
    "method",
    "host",
    "port",
    "token",
    "use_ssl",
    "schema",
    "database",
    "threads",
    "server_side_parameters",
    "file_format",
    "connect_timeout",
    "connect_retries",
    "retry_all",
];

/// dbt-spark's keys of its other methods (thrift, http, odbc, session), with the method.
const OTHER_METHODS: &[(&str, &str)] = &[
    ("cluster", "http/odbc"),
    ("endpoint", "odbc"),
    ("organization", "http/odbc"),
    ("user", "thrift"),
    ("auth", "thrift"),
    ("kerberos_service_name", "thrift"),
    ("driver", "odbc"),
    ("poll_interval", "thrift"),
    ("query_timeout", "thrift"),
    ("query_retries", "thrift"),
];

/// What a Spark target gives besides the connection: its schema and warnings.
#[derive(Debug)]
pub struct SparkKeys {
    pub connect: SparkConnect,
    pub schema: String,
    /// Keys accepted without effect, each naming itself and why.
    pub warnings: Vec<String>,
}

/// Reads Spark target `target` (its rendered keys `output`), at `locator` in profiles.yml.
///
/// Errors (each at the key's line, exit code 2): a `method` other than `connect`; a key of
/// dbt-spark's other methods; an unknown key; no `host` or `schema`; a `database` other than
/// the schema (dbt-spark's rule); a port, timeout or flag of the wrong type.
pub fn read(output: &Map<String, Value>, target: &str, locator: &Locator) -> Result<SparkKeys> {
    let err = |key: &str, msg: String, help: &str| key_error(target, locator, key, msg, help);
    check_keys(output, target, locator)?;
    check_method(output, &err)?;
    let text = |key: &str| output.get(key).and_then(Value::as_str).map(str::to_string);
    let host = text("host").ok_or_else(|| {
        err(
            "type",
            "a Spark target needs `host`".into(),
            "add `host: 127.0.0.1` (the Spark Connect server's host)",
        )
    })?;
    let schema = text("schema").ok_or_else(|| {
        err(
            "type",
            "a Spark target needs `schema`".into(),
            "add `schema: analytics` (the Spark database models are built in)",
        )
    })?;
    if let Some(database) = output.get("database").filter(|d| !d.is_null()) {
        if database.as_str() != Some(schema.as_str()) {
            return Err(err(
                "database",
                format!("`database: {database}` differs from `schema: {schema}`; on Spark the two are one"),
                "remove `database` (dbt-spark's rule: it must be omitted or equal `schema`)",
            ));
        }
    }
    let number = |key: &str, default: u64| -> Result<u64> {
        match output.get(key) {
            None | Some(Value::Null) => Ok(default),
            Some(v) => v
                .as_u64()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
                .ok_or_else(|| {
                    err(
                        key,
                        format!("`{key}: {v}` is not a whole number"),
                        "write a whole number",
                    )
                }),
        }
    };
    let flag = |key: &str| -> Result<bool> {
        match output.get(key) {
            None | Some(Value::Null) => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            Some(v) => Err(err(
                key,
                format!("`{key}: {v}` is not true or false"),
                "write true or false",
            )),
        }
    };
    let port = number("port", 15002)?;
    let port = u16::try_from(port).map_err(|_| {
        err(
            "port",
            format!("`port: {port}` is not a port number"),
            "write a port from 1 to 65535",
        )
    })?;
    let server_side_parameters = server_side_parameters(output, &err)?;
    let file_format = text("file_format").unwrap_or_else(|| "parquet".into());
    let warnings = keys_without_effect(output, target, locator);
    Ok(SparkKeys {
        connect: SparkConnect {
            host,
            port,
            token: text("token"),
            use_ssl: flag("use_ssl")?,
            server_side_parameters,
            file_format,
            connect_timeout: Duration::from_secs(number("connect_timeout", 10)?.max(1)),
            at: locator.at("type"),
        },
        schema,
        warnings,
    })
}

/// An error about `key` of target `target`, at its line, with `help`.
fn key_error(target: &str, locator: &Locator, key: &str, msg: String, help: &str) -> anyhow::Error {
    Diagnostic::new(format!("target `{target}`: {msg}"))
        .at(locator.at(key))
        .help(help.to_string())
        .into()
}

/// Errors on a key of dbt-spark's other methods, or a key a Spark target does not have (with
/// a did-you-mean).
fn check_keys(output: &Map<String, Value>, target: &str, locator: &Locator) -> Result<()> {
    let err = |key: &str, msg: String, help: &str| key_error(target, locator, key, msg, help);
    for key in output.keys() {
        if KEYS.contains(&key.as_str()) {
            continue;
        }
        if let Some((_, method)) = OTHER_METHODS.iter().find(|(k, _)| k == key) {
            return Err(err(
                key,
                format!("`{key}` is a key of dbt-spark's `method: {method}`; Mallard talks to Spark over Spark Connect only"),
                "use `method: connect` with `host` and `port` of a Spark Connect server (Spark 3.4+), and remove this key",
            ));
        }
        let mut d = Diagnostic::new(format!(
            "target `{target}`: unknown key `{key}` for a Spark target"
        ))
        .at(locator.at(key));
        d = match did_you_mean(key, KEYS.iter().copied()) {
            Some(s) => d.help(format!("did you mean `{s}`?")),
            None => d.help(format!("the keys of a Spark target: {}", KEYS.join(", "))),
        };
        return Err(d.into());
    }
    Ok(())
}

/// Errors unless `method: connect`.
fn check_method(
    output: &Map<String, Value>,
    err: &dyn Fn(&str, String, &str) -> anyhow::Error,
) -> Result<()> {
    match output.get("method").and_then(Value::as_str) {
        Some("connect") => {}
        Some(other) => {
            return Err(err(
                "method",
                format!("`method: {other}` is not supported; Mallard talks to Spark over Spark Connect"),
                "set `method: connect` and point `host`/`port` at a Spark Connect server (Spark 3.4+; `start-connect-server.sh`)",
            ))
        }
        None => {
            return Err(err(
                "type",
                "a Spark target needs `method: connect`".into(),
                "add `method: connect`",
            ))
        }
    }
    Ok(())
}

/// `server_side_parameters`: Spark confs as `(key, value)` pairs, values as text.
fn server_side_parameters(
    output: &Map<String, Value>,
    err: &dyn Fn(&str, String, &str) -> anyhow::Error,
) -> Result<Vec<(String, String)>> {
    let mut server_side_parameters = Vec::new();
    match output.get("server_side_parameters") {
        None | Some(Value::Null) => {}
        Some(Value::Object(m)) => {
            for (k, v) in m {
                let v = match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                server_side_parameters.push((k.clone(), v));
            }
        }
        Some(v) => {
            return Err(err(
                "server_side_parameters",
                format!("`server_side_parameters: {v}` is not a mapping"),
                "write Spark confs as a mapping, e.g. `server_side_parameters: {\"spark.sql.shuffle.partitions\": \"8\"}`",
            ))
        }
    }
    Ok(server_side_parameters)
}

/// A warning for each dbt-spark key that has no effect in Mallard.
fn keys_without_effect(output: &Map<String, Value>, target: &str, locator: &Locator) -> Vec<String> {
    let mut warnings = Vec::new();
    for key in ["connect_retries", "retry_all"] {
        if output.contains_key(key) {
            let loc = locator.at(key);
            warnings.push(format!(
                "profile key `{key}` of target `{target}` ({}:{}) has no effect in Mallard: the Spark Connect client retries a call the server reports as retriable itself, and a failed connection is reported at once",
                loc.file, loc.line
            ));
        }
    }
    warnings
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(yaml: &str) -> Result<SparkKeys> {
        let (text, output) = super::super::duckdb_profile::test_target(yaml);
        let at = Locator {
            file: "profiles.yml",
            text: &text,
            from_line: 3,
        };
        read(&output, "dev", &at)
    }

    const BASE: &str = "      type: spark\n      method: connect\n      host: h\n      schema: s\n";

    #[test]
    fn the_connect_keys_make_the_url_and_the_token_stays_out_of_messages() {
        let k = keys(&format!(
            "{BASE}      port: '15010'\n      use_ssl: true\n      token: sekret\n      server_side_parameters: {{spark.sql.shuffle.partitions: 8}}\n      connect_retries: 3\n"
        ))
        .unwrap();
        assert_eq!(k.connect.url(), "sc://h:15010/;use_ssl=true;token=sekret");
        assert_eq!(k.connect.file_format, "parquet");
        assert_eq!(
            k.connect.server_side_parameters,
            [("spark.sql.shuffle.partitions".to_string(), "8".to_string())]
        );
        assert_eq!(k.schema, "s");
        assert_eq!(k.warnings.len(), 1);
        assert!(k.warnings[0].contains("`connect_retries`"), "{:?}", k.warnings);
        assert!(!k.warnings[0].contains("sekret"));
    }

    #[test]
    fn keys_of_other_methods_unknown_keys_and_a_second_database_are_errors_at_their_line() {
        let err = |extra: &str| keys(&format!("{BASE}{extra}")).unwrap_err().to_string();
        let e = err("      cluster: c1\n");
        assert!(
            e.contains("`cluster` is a key of dbt-spark's `method: http/odbc`"),
            "{e}"
        );
        assert!(e.contains("profiles.yml:8"), "{e}");
        let e = err("      schemma: x\n");
        assert!(
            e.contains("unknown key `schemma`") && e.contains("did you mean `schema`?"),
            "{e}"
        );
        let e = err("      database: other\n");
        assert!(e.contains("differs from `schema: s`"), "{e}");
        let e = err("      port: 99999\n");
        assert!(e.contains("is not a port number"), "{e}");
        let e = keys("      type: spark\n      method: session\n      host: h\n      schema: s\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("`method: session` is not supported"), "{e}");
        assert!(
            keys("      type: spark\n      method: connect\n      schema: s\n")
                .unwrap_err()
                .to_string()
                .contains("needs `host`")
        );
    }
}
