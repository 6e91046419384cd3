//! Python's datetime arithmetic in templates, as rewrites of a tag's expression: minijinja has
//! no operators on objects, so `a - timedelta(...)`, `now() - t` and, where a template uses
//! timedeltas, `a + b` of two names become `mallard_datetime_arith(a, op, b)` calls (see
//! `pydatetime::arith`).

/// `body` (one tag's expression) with each `a - <...>timedelta(...)` and `a + ...` rewritten
/// as `mallard_datetime_arith(a, '-', <...>timedelta(...))`: minijinja has no operators on
/// objects, Python's datetimes do. `a` is the operand before the operator: a name with
/// attributes, calls and subscripts (`x.y(1)[0]`), a parenthesized group or a string.
pub(super) fn timedelta_arithmetic(body: &str) -> std::borrow::Cow<'_, str> {
    let body = now_subtraction(body);
    if !body.contains("timedelta(") {
        return body;
    }
    let mut s = body.into_owned();
    let mut from = 0;
    while let Some(found) = s[from..].find("timedelta(") {
        let call_start = {
            // Back over `modules.datetime.` or `datetime.` before `timedelta(`.
            let mut i = from + found;
            while i > 0
                && (s.as_bytes()[i - 1].is_ascii_alphanumeric() || matches!(s.as_bytes()[i - 1], b'.' | b'_'))
            {
                i -= 1;
            }
            i
        };
        let open = from + found + "timedelta".len();
        let Some(close) = super::rewrite::matching_close(&s, open) else {
            break;
        };
        let before = s[..call_start].trim_end();
        let op = before.chars().next_back();
        if !matches!(op, Some('-' | '+')) {
            from = close + 1;
            continue;
        }
        let op_at = before.len() - 1;
        let left_end = s[..op_at].trim_end().len();
        let left_start = super::rewrite::operand_start(&s, left_end);
        if left_start == left_end {
            from = close + 1;
            continue;
        }
        from = splice_arith(
            &mut s,
            left_start..left_end,
            op.unwrap_or('-'),
            call_start..close + 1,
        );
    }
    std::borrow::Cow::Owned(s)
}

/// `body` (one tag of a template that uses timedeltas) with each `a + b` whose operands are
/// names (with attributes, calls and subscripts) standing alone between delimiters rewritten
/// as `mallard_datetime_arith(a, '+', b)`: minijinja has no operators on objects, and two
/// timedeltas kept in variables add up in Python. Other values add as `+` adds them.
pub(super) fn name_addition(body: &str) -> std::borrow::Cow<'_, str> {
    if !body.contains('+') {
        return std::borrow::Cow::Borrowed(body);
    }
    let is_name_start = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    let mut s = body.to_string();
    let mut from = 0;
    let mut strings = super::scan::Strings::default();
    let mut i = 0;
    while i < s.len() {
        let c = s[i..].chars().next().unwrap_or(' ');
        if strings.step(c) || c != '+' || i < from {
            i += c.len_utf8();
            continue;
        }
        let left_end = s[..i].trim_end().len();
        let left_start = super::rewrite::operand_start(&s, left_end);
        let before = s[..left_start].trim_end().chars().next_back();
        let right_start = i + 1;
        let right_end = right_start + super::scan::operand_end(&s[right_start..]);
        let after = s[right_end..].trim_start().chars().next();
        let stands_alone = matches!(before, None | Some('(' | ',' | ':' | '=' | '[' | '{'))
            && matches!(after, None | Some(')' | ',' | '}' | ']' | '-'));
        if left_start == left_end
            || !stands_alone
            || !is_name_start(s[left_start..].chars().next())
            || !is_name_start(s[right_start..].trim_start().chars().next())
        {
            i += 1;
            continue;
        }
        from = splice_arith(&mut s, left_start..left_end, '+', right_start..right_end);
        i = from;
        strings = super::scan::Strings::default();
    }
    std::borrow::Cow::Owned(s)
}

/// `body` with each `<...>.now() - b` (also `utcnow()`) rewritten as
/// `mallard_datetime_arith(<...>.now(), '-', b)`: the time since `b`, a timedelta, as Python
/// gives it (`modules.datetime.datetime.now() - start_time` times a step).
fn now_subtraction(body: &str) -> std::borrow::Cow<'_, str> {
    if !body.contains("now()") {
        return std::borrow::Cow::Borrowed(body);
    }
    let mut s = body.to_string();
    let mut from = 0;
    while let Some(found) = s[from..].find("now()").map(|i| from + i) {
        let left_end = found + "now()".len();
        let after = &s[left_end..];
        let minus = after.len() - after.trim_start().len();
        let is_subtraction = after.trim_start().starts_with('-') && !after.trim_start().starts_with("-}");
        let left_start = super::rewrite::operand_start(&s, left_end);
        if !is_subtraction
            || !s[left_start..left_end].ends_with(".now()") && !s[left_start..left_end].ends_with(".utcnow()")
        {
            from = left_end;
            continue;
        }
        let right_start = left_end + minus + 1;
        let right_end = right_start + super::scan::operand_end(&s[right_start..]);
        from = splice_arith(&mut s, left_start..left_end, '-', right_start..right_end);
    }
    std::borrow::Cow::Owned(s)
}

/// Replaces `left <op> right` in `s` (the operands' ranges, the operator between them) with
/// `mallard_datetime_arith(left, 'op', right)`; returns where the call ends.
fn splice_arith(
    s: &mut String,
    left: std::ops::Range<usize>,
    op: char,
    right: std::ops::Range<usize>,
) -> usize {
    let call = format!(
        "mallard_datetime_arith({}, '{op}', {})",
        &s[left.clone()],
        s[right.clone()].trim()
    );
    s.replace_range(left.start..right.end, &call);
    left.start + call.len()
}
