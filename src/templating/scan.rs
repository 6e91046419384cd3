//! Scanning one Jinja expression for the rewrites of [`super::rewrite`]: string literals, the
//! words outside brackets, the extent of an operand, tuple parentheses, and `do X if C`.

/// A `do` tag's body `X if C` without `else`, split into its whitespace-control marker before
/// (`-`, `+` or nothing), `X`, `C` and its marker after; `None` for any other body.
pub(super) fn conditional_do(body: &str) -> Option<(&str, &str, &str, &str)> {
    let lead_len = body.len() - body.trim_start_matches(['-', '+']).len();
    let trail_len = body.len() - body.trim_end_matches('-').len();
    let (lead, inner) = body.split_at(lead_len);
    let (inner, trail) = inner.split_at(inner.len() - trail_len);
    let expr = inner.trim_start().strip_prefix("do")?;
    if !expr.starts_with(char::is_whitespace) {
        return None;
    }
    let words = top_level_words(expr);
    let at_if = words.iter().find(|(_, w)| *w == "if")?.0;
    if words.iter().any(|(_, w)| *w == "else") {
        return None;
    }
    Some((lead, expr[..at_if].trim(), expr[at_if + 2..].trim(), trail))
}

/// The words of `expr` outside strings and brackets, with their byte offsets.
fn top_level_words(expr: &str) -> Vec<(usize, &str)> {
    let mut words = Vec::new();
    let mut depth = 0usize;
    let mut strings = Strings::default();
    let mut start: Option<usize> = None;
    for (i, c) in expr.char_indices().chain(std::iter::once((expr.len(), ' '))) {
        let in_string = strings.step(c);
        let word_char = !in_string && (c.is_alphanumeric() || c == '_' || c == '.');
        match (start, word_char) {
            (None, true) => start = Some(i),
            (Some(s), false) => {
                if depth == 0 {
                    words.push((s, &expr[s..i]));
                }
                start = None;
            }
            _ => {}
        }
        match c {
            _ if in_string => {}
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    words
}

/// Follows string literals (`'...'`, `"..."`, with `\` escapes) through an expression, one
/// character at a time.
#[derive(Default)]
pub(super) struct Strings {
    quote: Option<char>,
    escaped: bool,
}

impl Strings {
    /// Whether `c`, the next character, belongs to a string literal (its quotes included).
    pub(super) fn step(&mut self, c: char) -> bool {
        match self.quote {
            Some(q) => {
                if self.escaped {
                    self.escaped = false;
                } else if c == '\\' {
                    self.escaped = true;
                } else if c == q {
                    self.quote = None;
                }
                true
            }
            None if c == '\'' || c == '"' => {
                self.quote = Some(c);
                true
            }
            None => false,
        }
    }
}

/// The length of the operand `rest` begins with (after white space): a bracketed group, a
/// string, or a name or number, with its trailers (`.attr`, `[key]`, `(args)`) and filters
/// (`| f(args)`), which bind tighter than `%`.
pub(super) fn operand_end(rest: &str) -> usize {
    let bytes = rest.as_bytes();
    let mut i = rest.len() - rest.trim_start().len();
    // The end of the bracketed group or string starting at `i`.
    let group_end = |i: usize| -> usize {
        let mut depth = 0usize;
        let mut quote: Option<u8> = None;
        let mut j = i;
        while j < bytes.len() {
            let b = bytes[j];
            match quote {
                Some(_) if b == b'\\' => j += 1,
                Some(q) if b == q => {
                    quote = None;
                    if depth == 0 {
                        return j + 1;
                    }
                }
                Some(_) => {}
                None => match b {
                    b'\'' | b'"' => quote = Some(b),
                    b'(' | b'[' | b'{' => depth += 1,
                    b')' | b']' | b'}' => {
                        depth = depth.saturating_sub(1);
                        if depth == 0 {
                            return j + 1;
                        }
                    }
                    _ => {}
                },
            }
            j += 1;
        }
        bytes.len()
    };
    let name_end = |mut i: usize| {
        while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_' || bytes[i] >= 0x80) {
            i += 1;
        }
        i
    };
    i = match bytes.get(i) {
        Some(b'(' | b'[' | b'{' | b'\'' | b'"') => group_end(i),
        Some(b'-') => name_end(i + 1),
        Some(_) => name_end(i),
        None => i,
    };
    loop {
        match bytes.get(i) {
            Some(b'.') => i = name_end(i + 1),
            Some(b'[' | b'(') => i = group_end(i),
            _ => {
                let after = rest[i..].trim_start();
                match after.strip_prefix('|') {
                    Some(filter) if !filter.starts_with('|') => {
                        let name_at = rest.len() - filter.trim_start().len();
                        i = name_end(name_at);
                    }
                    _ => return i,
                }
            }
        }
    }
}

/// Whether the parenthesis that `rest` follows holds a tuple: nothing, or a comma outside any
/// inner bracket and string before its closing `)`.
pub(super) fn is_tuple(rest: &str) -> bool {
    let mut depth = 0usize;
    let mut strings = Strings::default();
    let mut empty = true;
    for c in rest.chars() {
        if strings.step(c) {
            empty = false;
            continue;
        }
        match c {
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' if depth == 0 => return empty,
            ')' | ']' | '}' => depth -= 1,
            ',' if depth == 0 => return true,
            _ => {}
        }
        if !c.is_whitespace() {
            empty = false;
        }
    }
    false
}
