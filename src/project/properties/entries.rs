//! Reading each kind of entry of a property file: models, seeds and snapshots (with their
//! columns and data tests), sources and their tables, and unit tests.

use super::*;

impl PropertyFile<'_> {
    pub(super) fn unit_test(&self, entry: &Map<String, Value>) -> Result<UnitTestDef, Diagnostic> {
        let (name, location) = self.name(entry, "unit test")?;
        self.check_keys(entry, UNIT_TEST_KEYS, &format!("unit test `{name}`"))?;
        let model = entry.get("model").and_then(Value::as_str).ok_or_else(|| {
            Diagnostic::new(format!("unit test `{name}` has no `model:`"))
                .at(location.clone())
                .help("name the model it tests: `model: my_model`")
        })?;
        let expect = entry
            .get("expect")
            .and_then(Value::as_object)
            .cloned()
            .ok_or_else(|| {
                Diagnostic::new(format!("unit test `{name}` has no `expect:`"))
                    .at(location.clone())
                    .help("give the expected output under `expect: rows:`")
            })?;
        let given = match entry.get("given") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .map(|g| {
                    g.as_object().cloned().ok_or_else(|| {
                        Diagnostic::new(format!("each `given:` entry of unit test `{name}` must be a mapping with `input` and `rows`"))
                            .at(self.location_after(&name, "given"))
                    })
                })
                .collect::<Result<_, _>>()?,
            Some(_) => {
                return Err(Diagnostic::new(format!("`given:` of unit test `{name}` must be a list"))
                    .at(self.location_after(&name, "given")))
            }
        };
        let object = |key: &str| {
            entry
                .get(key)
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default()
        };
        Ok(UnitTestDef {
            model: model.to_string(),
            description: str_of(entry, "description"),
            given,
            expect,
            overrides: object("overrides"),
            config: object("config"),
            name,
            location,
            file: self.file.to_string(),
        })
    }

    pub(super) fn node(&self, entry: &Map<String, Value>) -> Result<NodeProps, Diagnostic> {
        let (name, location) = self.name(entry, "model or seed")?;
        self.check_keys(entry, MODEL_KEYS, &format!("`{name}`"))?;
        let mut config = entry
            .get("config")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        if let Some(tags) = entry.get("tags") {
            config.insert("tags".into(), tags.clone());
        }
        let text = |v: &Value| match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let mut versions = Vec::new();
        for version in self.list(entry, "versions")? {
            let Some(v) = version.get("v").map(text) else {
                return Err(
                    Diagnostic::new(format!("a version of model `{name}` has no `v:`"))
                        .at(location.clone())
                        .help("give each entry of `versions:` its version, e.g. `- v: 2`"),
                );
            };
            self.check_keys(
                version,
                &[
                    "v",
                    "defined_in",
                    "config",
                    "columns",
                    "data_tests",
                    "tests",
                    "description",
                    "deprecation_date",
                    "docs",
                    "meta",
                    "constraints",
                    "access",
                    "group",
                ],
                &format!("version {v} of `{name}`"),
            )?;
            let mut config = version
                .get("config")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default();
            if let Some(tags) = version.get("tags") {
                config.insert("tags".into(), tags.clone());
            }
            versions.push(VersionProps {
                defined_in: version
                    .get("defined_in")
                    .and_then(Value::as_str)
                    .map(str::to_string),
                config,
                columns: self.columns(version)?,
                tests: self.tests(version, &name)?,
                description: version
                    .get("description")
                    .and_then(Value::as_str)
                    .map(str::to_string),
                deprecation_date: version.get("deprecation_date").filter(|d| !d.is_null()).map(text),
                v,
            });
        }
        Ok(NodeProps {
            description: str_of(entry, "description"),
            config,
            columns: self.columns(entry)?,
            tests: self.tests(entry, &name)?,
            latest_version: entry.get("latest_version").map(text),
            time_spine: entry.get("time_spine").filter(|v| !v.is_null()).cloned(),
            deprecation_date: entry.get("deprecation_date").filter(|d| !d.is_null()).map(text),
            versions,
            relation: None,
            name,
            location,
            file: self.file.to_string(),
        })
    }

    pub(super) fn columns(&self, entry: &Map<String, Value>) -> Result<Vec<ColumnProps>, Diagnostic> {
        let mut out = Vec::new();
        for col in self.list(entry, "columns")? {
            // A model version's `- include: all` / `exclude: [...]` entry.
            if !col.contains_key("name") && (col.contains_key("include") || col.contains_key("exclude")) {
                if col.get("exclude").is_some_and(|e| !e.is_null()) {
                    self.warnings.borrow_mut().push(format!(
                        "`exclude` of a model version's columns in `{}` is not applied by Mallard: the version keeps every column's documentation",
                        self.file
                    ));
                }
                continue;
            }
            let (name, _) = self.name(col, "column")?;
            self.check_keys(col, COLUMN_KEYS, &format!("column `{name}`"))?;
            out.push(ColumnProps {
                description: str_of(col, "description"),
                data_type: col.get("data_type").and_then(Value::as_str).map(str::to_string),
                tests: self.tests(col, &name)?,
                name,
                // Only what dbt records beyond name, description and type: most columns have
                // none of it, and a project may have tens of thousands of columns.
                raw: col
                    .iter()
                    .filter(|(k, _)| COLUMN_EXTRA_KEYS.contains(&k.as_str()))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
            });
        }
        Ok(out)
    }

    pub(super) fn source(&self, entry: &Map<String, Value>) -> Result<SourceProps, Diagnostic> {
        let (name, _) = self.name(entry, "source")?;
        self.check_keys(entry, SOURCE_KEYS, &format!("source `{name}`"))?;
        let mut tables = Vec::new();
        for t in self.list(entry, "tables")? {
            let (tname, location) = self.name(t, "source table")?;
            self.check_keys(t, TABLE_KEYS, &format!("source table `{name}.{tname}`"))?;
            tables.push(SourceTableProps {
                identifier: t
                    .get("identifier")
                    .and_then(Value::as_str)
                    .unwrap_or(&tname)
                    .to_string(),
                description: str_of(t, "description"),
                columns: self.columns(t)?,
                tests: self.tests(t, &tname)?,
                name: tname,
                location,
                raw: t.clone(),
            });
        }
        Ok(SourceProps {
            schema: entry
                .get("schema")
                .and_then(Value::as_str)
                .unwrap_or(&name)
                .to_string(),
            database: entry.get("database").and_then(Value::as_str).map(str::to_string),
            description: str_of(entry, "description"),
            tables,
            name,
            file: self.file.to_string(),
            raw: entry.clone(),
        })
    }

    /// The tests under `data_tests:` (or the older `tests:`) of an entry named `owner`.
    pub(super) fn tests(&self, entry: &Map<String, Value>, owner: &str) -> Result<Vec<TestDef>, Diagnostic> {
        let key = if entry.contains_key("data_tests") {
            "data_tests"
        } else {
            "tests"
        };
        let items = match entry.get(key) {
            None | Some(Value::Null) => return Ok(Vec::new()),
            Some(Value::Array(items)) => items,
            Some(_) => {
                return Err(Diagnostic::new(format!("`{key}:` of `{owner}` must be a list"))
                    .at(crate::config::yaml::key_location(self.file, self.text, key)))
            }
        };
        items.iter().map(|item| self.test(item, owner)).collect()
    }

    pub(super) fn test(&self, item: &Value, owner: &str) -> Result<TestDef, Diagnostic> {
        let bad = |what: &str| {
            Diagnostic::new(format!(
                "malformed data test of `{owner}` in `{}`: {what}",
                self.file
            ))
            .at(self.entry_location(owner))
            .help("write `- not_null`, or `- accepted_values: {values: [a, b]}`")
        };
        let (test_name, body) = match item {
            Value::String(s) => (s.clone(), Map::new()),
            Value::Object(m) if m.len() == 1 => {
                let (k, v) = m.iter().next().expect("one entry");
                let body = match v {
                    Value::Object(b) => b.clone(),
                    Value::Null => Map::new(),
                    _ => return Err(bad(&format!("the arguments of `{k}` must be a mapping"))),
                };
                (k.clone(), body)
            }
            Value::Object(m) if m.contains_key("test_name") => {
                let name = m["test_name"]
                    .as_str()
                    .ok_or_else(|| bad("`test_name` must be a string"))?;
                let mut body = m.clone();
                body.remove("test_name");
                (name.to_string(), body)
            }
            _ => return Err(bad("expected a test name or a one-key mapping")),
        };
        let location = self.location_after(owner, &test_name);
        let mut kwargs = Map::new();
        let mut config = Map::new();
        let mut custom_name = None;
        for (k, v) in body {
            match k.as_str() {
                "config" => config.extend(v.as_object().cloned().unwrap_or_default()),
                "arguments" => kwargs.extend(v.as_object().cloned().unwrap_or_default()),
                "name" => custom_name = v.as_str().map(str::to_string),
                key if KNOWN_CONFIG_KEYS.contains(&normalize_key(key).as_str()) => {
                    config.insert(normalize_key(key), v);
                }
                _ => {
                    kwargs.insert(k, v);
                }
            }
        }
        Ok(TestDef {
            test_name,
            kwargs,
            config,
            custom_name,
            location,
        })
    }
}

pub(super) fn str_of(map: &Map<String, Value>, key: &str) -> String {
    map.get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}
