//! Jinja2's filters over collections and its type and comparison tests, as Python runs them
//! where minijinja's differ: `max`/`min` ignore case, `sum(start=)`, `first`/`last` of a dict
//! (its keys) or of an undefined value (undefined), `abs` of a boolean, `dictsort` giving
//! `(key, value)` tuples, `sort` giving a list that `.append()` changes, `pprint` with sorted
//! dict keys; the tests `number` (booleans are numbers), `sequence`, `iterable`, `callable`,
//! `lower`/`upper` (of `str(value)`), and the comparisons (`eq`, `gt`, `<`, ...) with booleans
//! compared as the integers they are in Python; `x is filter` / `x is test`. Measured by
//! `tests/jinja.rs`.

use std::cmp::Ordering;

use minijinja::value::{Kwargs, Rest, Value, ValueKind};
use minijinja::{Environment, Error, ErrorKind, State};

use super::mutable::{MutableList, Tuple};
use super::pyrepr::{py_repr, str_of};

/// Adds the filters and tests to `env`, replacing minijinja's of the same names.
pub fn add_to(env: &mut Environment<'static>) {
    env.add_function("range", super::pyrange::range);
    // Jinja2's `is filter` / `is test`: whether the value names one.
    env.add_test("filter", |v: Value| names_one(&v, FILTERS));
    env.add_test("test", |v: Value| names_one(&v, TESTS));
    env.add_filter("max", |v: Value, kwargs: Kwargs| {
        extreme(v, kwargs, Ordering::Greater)
    });
    env.add_filter("min", |v: Value, kwargs: Kwargs| {
        extreme(v, kwargs, Ordering::Less)
    });
    env.add_filter("sum", sum);
    env.add_filter("first", |v: Value| -> Result<Value, Error> {
        if v.is_undefined() {
            return Ok(v);
        }
        not_iterable(&v)?;
        Ok(v.try_iter()?.next().unwrap_or(Value::UNDEFINED))
    });
    env.add_filter("last", |v: Value| -> Result<Value, Error> {
        if v.is_undefined() {
            return Ok(v);
        }
        not_iterable(&v)?;
        Ok(v.try_iter()?.last().unwrap_or(Value::UNDEFINED))
    });
    env.add_filter("abs", |v: Value| -> Result<Value, Error> {
        match v.kind() {
            ValueKind::Bool => Ok(Value::from(i64::from(v.is_true()))),
            _ => minijinja::filters::abs(v),
        }
    });
    env.add_filter("dictsort", dictsort);
    env.add_filter("reverse", |v: Value| -> Result<Value, Error> {
        not_iterable(&v)?;
        minijinja::filters::reverse(&v)
    });
    env.add_filter("format", format);
    env.add_filter("groupby", groupby);
    env.add_filter(
        "sort",
        |state: &State, v: Value, kwargs: Kwargs| -> Result<Value, Error> {
            not_iterable(&v)?;
            let sorted = minijinja::filters::sort(state, v, kwargs)?;
            Ok(Value::from_object(MutableList::from_items(
                sorted.try_iter()?.collect(),
            )))
        },
    );
    env.add_filter("pprint", |v: Value| {
        if v.is_undefined() {
            return "Undefined".to_string();
        }
        let mut out = String::new();
        py_repr(&sorted_keys(&v), &mut out);
        out
    });
    add_tests(env);
}

/// Jinja2's tests as Python runs them: `divisibleby`, `even`, `odd` (numbers and booleans
/// only), `number`, `callable`, `lower`, `upper`, `sequence`, `iterable`, and the comparisons
/// with booleans compared as the integers they are in Python.
fn add_tests(env: &mut Environment<'static>) {
    // `value % n == 0`: only numbers (and booleans) can be divided, as in Python.
    let remainder = |v: &Value, n: i64| -> Result<f64, Error> {
        match as_int(v).kind() {
            ValueKind::Number if n != 0 => Ok(f64::try_from(as_int(v))?.rem_euclid(n as f64)),
            _ => Err(Error::new(
                ErrorKind::InvalidOperation,
                format!("cannot divide a {} by {n}", v.kind()),
            )),
        }
    };
    env.add_test("divisibleby", move |v: Value, n: i64| {
        remainder(&v, n).map(|r| r == 0.0)
    });
    env.add_test("even", move |v: Value| remainder(&v, 2).map(|r| r == 0.0));
    env.add_test("odd", move |v: Value| remainder(&v, 2).map(|r| r == 1.0));
    env.add_test("number", |v: Value| {
        matches!(v.kind(), ValueKind::Number | ValueKind::Bool)
    });
    env.add_test("callable", |v: Value| {
        matches!(v.kind(), ValueKind::Plain | ValueKind::Undefined)
    });
    env.add_test("lower", |v: Value| cased(&str_of(&v), char::is_lowercase));
    env.add_test("upper", |v: Value| cased(&str_of(&v), char::is_uppercase));
    env.add_test("sequence", |v: Value| {
        let view = v.downcast_object_ref::<super::pymethods::DictView>().is_some();
        !view
            && matches!(
                v.kind(),
                ValueKind::String | ValueKind::Seq | ValueKind::Map | ValueKind::Undefined
            )
    });
    env.add_test("iterable", |v: Value| {
        matches!(
            v.kind(),
            ValueKind::String | ValueKind::Seq | ValueKind::Map | ValueKind::Iterable | ValueKind::Undefined
        )
    });
    for name in ["eq", "equalto", "=="] {
        env.add_test(name, |a: Value, b: Value| as_int(&a) == as_int(&b));
    }
    for name in ["ne", "!="] {
        env.add_test(name, |a: Value, b: Value| as_int(&a) != as_int(&b));
    }
    for name in ["lt", "lessthan", "<"] {
        env.add_test(name, |a: Value, b: Value| compare(&a, &b).map(Ordering::is_lt));
    }
    for name in ["le", "<="] {
        env.add_test(name, |a: Value, b: Value| compare(&a, &b).map(Ordering::is_le));
    }
    for name in ["gt", "greaterthan", ">"] {
        env.add_test(name, |a: Value, b: Value| compare(&a, &b).map(Ordering::is_gt));
    }
    for name in ["ge", ">="] {
        env.add_test(name, |a: Value, b: Value| compare(&a, &b).map(Ordering::is_ge));
    }
}

/// Jinja2's `format(*args, **kwargs)` filter: `str(value) % args` (or `% kwargs`).
///
/// Errors: positional and keyword arguments mixed; the formatting's own (see
/// [`super::pyformat::percent_format`]).
fn format(v: Value, args: Rest<Value>, kwargs: Kwargs) -> Result<String, Error> {
    let names: Vec<String> = kwargs.args().map(str::to_string).collect();
    let values = if names.is_empty() {
        Value::from_object(Tuple(args.0))
    } else if args.is_empty() {
        let entries = names
            .iter()
            .map(|n| Ok((Value::from(n.as_str()), kwargs.get::<Value>(n)?)))
            .collect::<Result<_, Error>>()?;
        Value::from_object(super::mutable::MutableDict::from_entries(entries))
    } else {
        return Err(Error::new(
            ErrorKind::InvalidOperation,
            "format: positional and keyword arguments cannot be mixed",
        ));
    };
    super::pyformat::percent_format(&str_of(&v), &values)
}

/// Errors: `v` is none, a boolean or a number, which Python cannot iterate.
fn not_iterable(v: &Value) -> Result<(), Error> {
    match v.kind() {
        ValueKind::None | ValueKind::Bool | ValueKind::Number => Err(Error::new(
            ErrorKind::InvalidOperation,
            format!("a {} is not iterable", v.kind()),
        )),
        _ => Ok(()),
    }
}

/// A boolean as the integer it is in Python (`True == 1`); other values as they are.
fn as_int(v: &Value) -> Value {
    match v.kind() {
        ValueKind::Bool => Value::from(i64::from(v.is_true())),
        _ => v.clone(),
    }
}

/// Python's ordering of `a` and `b`: numbers (booleans included) by value, strings, lists and
/// tuples among their own kind.
///
/// Errors: values Python cannot order (`'a' < 1`, `none < 1`), as `TypeError`.
fn compare(a: &Value, b: &Value) -> Result<Ordering, Error> {
    let (a, b) = (as_int(a), as_int(b));
    if a.kind() != b.kind() || !matches!(a.kind(), ValueKind::Number | ValueKind::String | ValueKind::Seq) {
        return Err(Error::new(
            ErrorKind::InvalidOperation,
            format!("'<' not supported between a {} and a {}", a.kind(), b.kind()),
        ));
    }
    Ok(a.cmp(&b))
}

/// Python's `str.islower()`/`isupper()`: at least one cased character, and all of them `case`.
pub(super) fn cased(s: &str, case: fn(char) -> bool) -> bool {
    let mut any = false;
    for c in s.chars().filter(|c| c.is_lowercase() || c.is_uppercase()) {
        if !case(c) {
            return false;
        }
        any = true;
    }
    any
}

/// The key Jinja2 sorts and compares by: the `attribute` of an item (dotted, or an index), a
/// string lower-cased unless `case_sensitive`.
fn sort_key(item: &Value, attribute: Option<&Value>, case_sensitive: bool) -> Value {
    let mut key = item.clone();
    if let Some(attribute) = attribute {
        match attribute.as_str() {
            Some(path) => {
                for part in path.split('.') {
                    key = match part.parse::<i64>() {
                        Ok(i) => key.get_item(&Value::from(i)).unwrap_or_default(),
                        Err(_) => key.get_attr(part).unwrap_or_default(),
                    };
                }
            }
            None => key = key.get_item(attribute).unwrap_or_default(),
        }
    }
    match key.as_str() {
        Some(s) if !case_sensitive => Value::from(s.to_lowercase()),
        _ => key,
    }
}

/// Jinja2's `max`/`min(case_sensitive=False, attribute=None)`: the first greatest (least)
/// item, undefined for an empty value.
///
/// Errors: a value that cannot be iterated.
fn extreme(v: Value, kwargs: Kwargs, want: Ordering) -> Result<Value, Error> {
    not_iterable(&v)?;
    let case_sensitive: bool = kwargs.get::<Option<bool>>("case_sensitive")?.unwrap_or(false);
    let attribute: Option<Value> = kwargs.get("attribute")?;
    kwargs.assert_all_used()?;
    let mut best: Option<(Value, Value)> = None;
    for item in v.try_iter()? {
        let key = sort_key(&item, attribute.as_ref(), case_sensitive);
        if best.as_ref().is_none_or(|(k, _)| key.cmp(k) == want) {
            best = Some((key, item));
        }
    }
    Ok(best.map_or(Value::UNDEFINED, |(_, item)| item))
}

/// Jinja2's `sum(attribute=None, start=0)`: integers add as integers, a float makes the sum a
/// float; booleans count as 0 and 1.
///
/// Errors: an item that is not a number.
fn sum(v: Value, attribute: Option<Value>, kwargs: Kwargs) -> Result<Value, Error> {
    not_iterable(&v)?;
    let attribute = attribute.or(kwargs.get("attribute")?);
    let start: Option<Value> = kwargs.get("start")?;
    kwargs.assert_all_used()?;
    let mut int: i64 = 0;
    let mut float: Option<f64> = None;
    let items =
        std::iter::once(start.unwrap_or(Value::from(0))).chain(v.try_iter()?.map(|item| match &attribute {
            Some(a) => sort_key(&item, Some(a), true),
            None => item,
        }));
    for item in items {
        let item = as_int(&item);
        if item.kind() != ValueKind::Number {
            return Err(Error::new(
                ErrorKind::InvalidOperation,
                format!(
                    "unsupported operand type(s) for +: a number and a {}",
                    item.kind()
                ),
            ));
        }
        match (item.as_i64(), float) {
            (Some(i), None) if item.is_integer() => {
                int = int.checked_add(i).ok_or(ErrorKind::InvalidOperation)?
            }
            _ => float = Some(float.unwrap_or(int as f64) + f64::try_from(item)?),
        }
    }
    Ok(float.map_or(Value::from(int), Value::from))
}

/// Jinja2's `dictsort(case_sensitive=False, by='key', reverse=False)`: the `(key, value)`
/// tuples of a dict, sorted by key (or value).
///
/// Errors: a value that is not a dict; `by` other than `key` or `value`.
fn dictsort(v: Value, kwargs: Kwargs) -> Result<Value, Error> {
    let case_sensitive: bool = kwargs.get::<Option<bool>>("case_sensitive")?.unwrap_or(false);
    let by: Option<String> = kwargs.get("by")?;
    let reverse: bool = kwargs.get::<Option<bool>>("reverse")?.unwrap_or(false);
    kwargs.assert_all_used()?;
    if v.kind() != ValueKind::Map {
        return Err(Error::new(
            ErrorKind::InvalidOperation,
            "dictsort: the value must be a dict",
        ));
    }
    let index = match by.as_deref().unwrap_or("key") {
        "key" => 0,
        "value" => 1,
        _ => {
            return Err(Error::new(
                ErrorKind::InvalidOperation,
                "dictsort: you can only sort by either 'key' or 'value'",
            ))
        }
    };
    let mut pairs: Vec<[Value; 2]> = Vec::new();
    for key in v.try_iter()? {
        let value = v.get_item(&key)?;
        pairs.push([key, value]);
    }
    pairs.sort_by(|a, b| {
        let (a, b) = (
            sort_key(&a[index], None, case_sensitive),
            sort_key(&b[index], None, case_sensitive),
        );
        if reverse {
            b.cmp(&a)
        } else {
            a.cmp(&b)
        }
    });
    let tuples = pairs
        .into_iter()
        .map(|pair| Value::from_object(Tuple(pair.to_vec())))
        .collect();
    Ok(Value::from_object(MutableList::from_items(tuples)))
}

/// `v` with the keys of every dict in it sorted, as Python's `pprint` prints them.
fn sorted_keys(v: &Value) -> Value {
    match v.kind() {
        ValueKind::Map if !super::pyrepr::renders_itself(v) => {
            let mut entries: Vec<(Value, Value)> = match v.try_iter() {
                Ok(keys) => keys
                    .map(|k| {
                        let value = v.get_item(&k).unwrap_or_default();
                        (k, sorted_keys(&value))
                    })
                    .collect(),
                Err(_) => return v.clone(),
            };
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::from_object(super::mutable::MutableDict::from_entries(entries))
        }
        _ => v.clone(),
    }
}

/// Jinja2's `groupby(attribute, default=None, case_sensitive=False)`: the items sorted by
/// their `attribute` (a name, a dotted path or an index), grouped by equal keys, as
/// `(grouper, list)` tuples whose `grouper` is the first item's own key.
///
/// Errors: a value that cannot be iterated.
fn groupby(v: Value, attribute: Value, kwargs: Kwargs) -> Result<Value, Error> {
    let default: Option<Value> = kwargs.get("default")?;
    let case_sensitive: bool = kwargs.get::<Option<bool>>("case_sensitive")?.unwrap_or(false);
    kwargs.assert_all_used()?;
    if v.is_undefined() {
        return Ok(Value::from_object(MutableList::default()));
    }
    let key_of = |item: &Value, case_sensitive: bool| {
        let key = sort_key(item, Some(&attribute), case_sensitive);
        match (&default, key.is_undefined()) {
            (Some(d), true) => d.clone(),
            _ => key,
        }
    };
    not_iterable(&v)?;
    let mut items: Vec<Value> = v.try_iter()?.collect();
    // Python cannot order an undefined key, nor keys of different types.
    let keys: Vec<Value> = items.iter().map(|i| as_int(&key_of(i, case_sensitive))).collect();
    if keys.len() > 1
        && keys
            .iter()
            .any(|k| k.is_undefined() || k.kind() != keys[0].kind())
    {
        return Err(Error::new(
            ErrorKind::InvalidOperation,
            "groupby: keys that cannot be ordered",
        ));
    }
    items.sort_by_key(|item| key_of(item, case_sensitive));
    let mut groups: Vec<(Value, Vec<Value>)> = Vec::new();
    for item in items {
        let key = key_of(&item, case_sensitive);
        match groups.last_mut() {
            Some((k, members)) if *k == key => members.push(item),
            _ => groups.push((key, vec![item])),
        }
    }
    let tuples = groups
        .into_iter()
        .map(|(_, members)| {
            let grouper = key_of(&members[0], true);
            Value::from_object(GroupTuple(vec![
                grouper,
                Value::from_object(MutableList::from_items(members)),
            ]))
        })
        .collect();
    Ok(Value::from_object(MutableList::from_items(tuples)))
}

/// One group of [`groupby`]: the tuple `(grouper, list)`, whose items are also its attributes
/// `grouper` and `list`, as Jinja2's.
#[derive(Debug)]
struct GroupTuple(Vec<Value>);

impl minijinja::value::Object for GroupTuple {
    fn repr(self: &std::sync::Arc<Self>) -> minijinja::value::ObjectRepr {
        minijinja::value::ObjectRepr::Seq
    }

    fn get_value(self: &std::sync::Arc<Self>, key: &Value) -> Option<Value> {
        match key.as_str() {
            Some("grouper") => self.0.first().cloned(),
            Some("list") => self.0.get(1).cloned(),
            _ => self.0.get(usize::try_from(key.as_i64()?).ok()?).cloned(),
        }
    }

    fn enumerate(self: &std::sync::Arc<Self>) -> minijinja::value::Enumerator {
        minijinja::value::Enumerator::Values(self.0.clone())
    }

    fn render(self: &std::sync::Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut text = String::new();
        py_repr(&Value::from_object(Tuple(self.0.clone())), &mut text);
        f.write_str(&text)
    }
}

/// Whether `v` is one of `names`, as Python's `v in dict` answers: a list or a dict (which
/// Python cannot hash) is an error.
fn names_one(v: &Value, names: &[&str]) -> Result<bool, Error> {
    // Tuples, ranges and `dict_values` hash; lists, dicts, `dict_keys` and `dict_items` do not.
    let tuple = v.downcast_object_ref::<Tuple>().is_some()
        || v.downcast_object_ref::<super::pyrange::PyRange>().is_some()
        || v.downcast_object_ref::<super::pymethods::DictView>()
            .is_some_and(|d| d.kind == "dict_values");
    if matches!(v.kind(), ValueKind::Seq | ValueKind::Map) && !tuple {
        return Err(Error::new(
            ErrorKind::InvalidOperation,
            format!(
                "unhashable type: '{}'",
                if v.kind() == ValueKind::Seq {
                    "list"
                } else {
                    "dict"
                }
            ),
        ));
    }
    Ok(v.as_str().is_some_and(|n| names.contains(&n)))
}

/// The filters a template can name (`'upper' is filter`): Jinja2's and dbt's.
const FILTERS: &[&str] = &[
    "abs",
    "attr",
    "batch",
    "capitalize",
    "center",
    "count",
    "d",
    "default",
    "dictsort",
    "e",
    "escape",
    "filesizeformat",
    "first",
    "float",
    "forceescape",
    "format",
    "groupby",
    "indent",
    "int",
    "items",
    "join",
    "last",
    "length",
    "list",
    "lower",
    "map",
    "max",
    "min",
    "pprint",
    "random",
    "reject",
    "rejectattr",
    "replace",
    "reverse",
    "round",
    "safe",
    "select",
    "selectattr",
    "slice",
    "sort",
    "string",
    "striptags",
    "sum",
    "title",
    "tojson",
    "trim",
    "truncate",
    "unique",
    "upper",
    "urlencode",
    "urlize",
    "wordcount",
    "wordwrap",
    "xmlattr",
    "as_bool",
    "as_native",
    "as_number",
    "as_text",
    "is_list",
];

/// The tests a template can name (`'defined' is test`): Jinja2's.
const TESTS: &[&str] = &[
    "boolean",
    "callable",
    "defined",
    "divisibleby",
    "eq",
    "equalto",
    "escaped",
    "even",
    "false",
    "filter",
    "float",
    "ge",
    "greaterthan",
    "gt",
    "in",
    "integer",
    "iterable",
    "le",
    "lessthan",
    "lower",
    "lt",
    "mapping",
    "ne",
    "none",
    "number",
    "odd",
    "sameas",
    "sequence",
    "string",
    "test",
    "true",
    "undefined",
    "upper",
    "==",
    "!=",
    ">",
    ">=",
    "<",
    "<=",
];
