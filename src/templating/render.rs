//! Rendering a node's template with its context, recording the `ref`, `source` and `config`
//! calls it makes, and turning minijinja's errors into `file:line` diagnostics.

use super::*;

/// Renders a node. In the parse phase the returned [`Recorded`] holds its calls.
///
/// Errors: Jinja syntax and runtime errors (an undefined variable printed, a missing
/// `var`, a failing macro), as a diagnostic at the file and line where they happened.
pub fn render(
    env: &Environment<'static>,
    input: &RenderInput<'_>,
    node: NodeContext,
) -> Result<(String, Recorded), Diagnostic> {
    let node = Arc::new(node);
    let ctx = render_context(input, &node);
    let source = mutable_literals(input.source);
    let limit = max_render_bytes();
    let _budget = pyrepr::PrintBudget::start(limit);
    let mut out = BoundedOutput {
        text: Vec::new(),
        limit,
        refused: None,
    };
    let rendered = env
        .template_from_named_str(input.file, &source)
        .and_then(|t| t.render_captured_to(ctx, &mut out).map(drop));
    let refused = out.refused.take();
    let over = refused.is_some();
    let out = rendered.map(|()| String::from_utf8_lossy(&out.text).into_owned()).map_err(|e| {
        let mut d = rewritten_diagnostic(&e, input.file, input.source, &source);
        if let Some(text) = &refused {
            d.message = "this render wrote more bytes than its bound (a runaway loop?)".to_string();
            // minijinja reports a failed write without its line: the line is where the
            // template's own text being written when the bound was hit stands.
            let chunk = text.trim_start_matches('\n');
            let line = (!chunk.trim().is_empty())
                .then(|| input.source.find(chunk))
                .flatten()
                .map(|at| input.source[..at].matches('\n').count() + 1);
            if let Some(line) = line {
                d.location = Some(crate::error::Location::in_source(input.file, input.source, line, None));
            }
        }
        if over || d.message.contains("printed more bytes than its bound") {
            return d.help(format!(
                "a render may write and print {} bytes; set {MAX_RENDER_BYTES_VAR}=<bytes> to allow more (0: no bound)",
                limit.unwrap_or(0)
            ));
        }
        if d.message.contains("ran out of fuel") {
            return d.help(format!(
                "a template or macro took more than {} rendering steps (a runaway loop?); \
                 set {MAX_RENDER_STEPS_VAR}=<steps> to allow more (0: no bound)",
                max_render_steps().unwrap_or(0)
            ));
        }
        match d
            .message
            .strip_prefix("unknown function or macro `")
            .and_then(|m| m.strip_suffix('`'))
        {
            Some(unknown) => {
                let known: Vec<&str> = env.globals().map(|(name, _)| name).collect();
                match crate::error::did_you_mean(unknown, known) {
                    Some(s) => d.help(format!("did you mean `{s}`?")),
                    None => {
                        d.help("macros are defined with `{% macro name(...) %}` in a file under `macros/`")
                    }
                }
            }
            None => match d
                .message
                .split('`')
                .nth(1)
                .filter(|_| d.message.starts_with("maximum recursion"))
            {
                // Say where the node's own template entered the recursion.
                Some(first) => match find_call_line(input.source, first, "") {
                    Some((line, _)) => d.help(format!("called from `{}:{line}`", input.file)),
                    None => d,
                },
                None => d,
            },
        }
    })?;
    let recorded = std::mem::take(&mut *node.recorded.lock().unwrap_or_else(|p| p.into_inner()));
    Ok((out, recorded))
}

/// A render's output, refused past `limit` bytes (see [`max_render_bytes`]).
struct BoundedOutput {
    text: Vec<u8>,
    limit: Option<u64>,
    /// The first text refused (up to 200 bytes), once a write was.
    refused: Option<String>,
}

impl std::io::Write for BoundedOutput {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        if self
            .limit
            .is_some_and(|l| (self.text.len() + bytes.len()) as u64 > l)
        {
            let text = String::from_utf8_lossy(&bytes[..bytes.len().min(200)]).into_owned();
            self.refused.get_or_insert(text);
            return Err(std::io::Error::other("output over its bound"));
        }
        self.text.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The variables a render of `input` for `node` sees.
pub(super) fn render_context(input: &RenderInput<'_>, node: &Arc<NodeContext>) -> Value {
    let this = input
        .this
        .clone()
        .map(Value::from_object)
        .unwrap_or(Value::UNDEFINED);
    // A dict a template may change (`model.config.meta.pop(...)`), as dbt's node dict.
    let model = super::mutable::mutable_value(&input.model);
    let base = minijinja::context! {
        __mallard => Value::from_dyn_object(node.clone()),
        __mallard_this => this.clone(),
        __mallard_model => model.clone(),
        this => this,
        model => model,
        execute => node.phase == Phase::Run,
        config => Value::from_object(ConfigObject { node: node.clone() }),
        context => Value::from_object(super::mutable::TemplateContext::default()),
    };
    match &input.extra {
        Some(extra) => minijinja::value::merge_maps([base, extra.clone()]),
        None => base,
    }
}

/// What rendering `input` records (refs, sources, configs, macros called), also when the
/// render fails part-way: the calls made before the error. For templates dbt renders at
/// parse time only to learn what they call, such as hooks.
pub fn record_calls(env: &Environment<'static>, input: &RenderInput<'_>, node: NodeContext) -> Recorded {
    let node = Arc::new(node);
    let ctx = render_context(input, &node);
    let _ = env.render_named_str(input.file, &mutable_literals(input.source), ctx);
    let recorded = std::mem::take(&mut *node.recorded.lock().unwrap_or_else(|p| p.into_inner()));
    recorded
}

/// Evaluates a single Jinja expression, such as the `to: ref('customers')` argument of a
/// relationships test, with `node` as its context.
pub fn eval_expression(
    env: &Environment<'static>,
    expr: &str,
    node: NodeContext,
) -> Result<(Value, Recorded), Error> {
    let node = Arc::new(node);
    let expr = rewrite::rewrite_expression(expr);
    let compiled = env.compile_expression(&expr)?;
    let value = compiled.eval(minijinja::context! {
        __mallard => Value::from_dyn_object(node.clone()),
        execute => node.phase == Phase::Run,
    })?;
    let recorded = std::mem::take(&mut *node.recorded.lock().unwrap_or_else(|p| p.into_inner()));
    Ok((value, recorded))
}

/// Turns a minijinja error into a diagnostic: the innermost template and line it names,
/// with the excerpt from `source` when that template is the node itself.
pub fn jinja_diagnostic(err: &Error, file: &str, source: &str) -> Diagnostic {
    // Errors raised inside a macro or an included template carry that template's name;
    // the chain's innermost error with a line is the one to show.
    let mut innermost: &Error = err;
    let mut cur: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(err);
    while let Some(e) = cur {
        if let Some(je) = e.downcast_ref::<Error>() {
            if je.line().is_some() {
                innermost = je;
            }
        }
        cur = e.source();
    }
    let detail = innermost
        .detail()
        .map(str::to_string)
        .unwrap_or_else(|| innermost.kind().to_string());
    let name = innermost.name().map_or(file, macros::template_file);
    // The source text the error points at, when it is in this file: minijinja's messages for
    // undefined names do not repeat the name.
    let spanned = innermost
        .range()
        .filter(|_| name == file)
        .and_then(|r| source.get(r))
        .map(|t| t.trim().to_string());
    let message = match (innermost.kind(), &spanned) {
        (ErrorKind::SyntaxError, _) => format!("Jinja syntax error: {detail}"),
        (ErrorKind::UndefinedError, Some(text)) => format!("undefined variable `{text}`"),
        (ErrorKind::UndefinedError, None) => format!("undefined variable: {detail}"),
        (ErrorKind::UnknownFunction, Some(text)) => {
            format!(
                "unknown function or macro `{}`",
                text.split('(').next().unwrap_or(text).trim()
            )
        }
        (ErrorKind::UnknownFunction, None) => format!("unknown function or macro: {detail}"),
        _ => detail,
    };
    let mut d = Diagnostic::new(message);
    if let Some(line) = innermost.line() {
        let text = if name == file { source } else { "" };
        // The span's start, as a 1-based character column on its line.
        let column = innermost.range().filter(|_| name == file).and_then(|r| {
            let line_start = source.get(..r.start)?.rfind('\n').map_or(0, |i| i + 1);
            Some(source.get(line_start..r.start)?.chars().count() + 1)
        });
        let mut loc = Location::in_source(name, text, line, column);
        if name != file {
            loc.source_line = None;
        }
        d = d.at(loc);
    } else {
        d = d.at(Location::in_source(file, source, 1, None));
        d.location.as_mut().unwrap().source_line = None;
    }
    if innermost.kind() == ErrorKind::UndefinedError {
        d = d.help("define it with `{% set %}`, pass it with `var()`, or check its spelling");
    }
    d
}

/// The 1-based line of the first call `func(` in `source` whose first quoted argument
/// is one of `args`, or of the first `func(` at all; `None` if `func(` never occurs.
/// minijinja gives a native function no span, so the parse phase finds its calls by text.
pub fn find_call_line(source: &str, func: &str, arg: &str) -> Option<(usize, usize)> {
    let pattern = format!("{func}(");
    let mut first = None;
    for (i, line) in source.lines().enumerate() {
        let mut from = 0;
        while let Some(pos) = line[from..].find(&pattern) {
            let at = from + pos;
            // A call, not the tail of a longer name (`my_ref(`).
            let standalone = at == 0
                || !line.as_bytes()[at - 1].is_ascii_alphanumeric() && line.as_bytes()[at - 1] != b'_';
            if standalone {
                first.get_or_insert((i + 1, at + 1));
                let rest = &line[at + pattern.len()..];
                if rest.contains(&format!("'{arg}'")) || rest.contains(&format!("\"{arg}\"")) {
                    return Some((i + 1, at + 1));
                }
            }
            from = at + pattern.len();
        }
    }
    first
}
