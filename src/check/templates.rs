//! Template checks (E0405, E0406): notification templates compile as
//! handlebars, and where a process uses one, every variable it reads exists
//! for that process's record and for the event that sends it.

use handlebars::template::{HelperTemplate, Parameter, Template as HbTemplate, TemplateElement};
use handlebars::Path;

use std::collections::HashMap;

use super::resolve::{suggest, DeclRef, Kind};
use super::ProcessCtx;
use crate::diag::Diagnostic;
use crate::syntax::ast::{Template, TemplateText};
use crate::syntax::span::{Ident, Span};

/// The event that renders a template decides which variables exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Context {
    /// `on enter S notify …`
    Notification,
    /// SLA `warn` and `breach`
    Sla,
    /// approval `timeout … escalate to`
    Approval,
    /// `escalation … { notify … }`
    Escalation,
}

/// Variables every template may read besides `record.FIELD`.
pub const COMMON_VARIABLES: &[(&str, &[&str])] = &[
    ("instance", crate::script::INSTANCE_PROPERTIES),
    ("process", &["name", "title"]),
    ("recipient", &["role", "id"]),
    ("state", &["name", "title"]),
];

fn context_variables(context: Context) -> &'static [(&'static str, &'static [&'static str])] {
    match context {
        Context::Notification => &[],
        Context::Sla => &[(
            "sla",
            &[
                "name",
                "title",
                "target",
                "elapsed",
                "remaining",
                "percent",
                "due_at",
            ],
        )],
        Context::Approval => &[("approval", &["name", "title", "state", "requested_at"])],
        Context::Escalation => &[("escalation", &["name", "title"])],
    }
}

/// A span inside a template string, given handlebars' 1-based line and column.
fn span_at(text: &TemplateText, line: usize, col: usize) -> Span {
    let mut offset = 0;
    for (i, l) in text.text.split_inclusive('\n').enumerate() {
        if i + 1 == line {
            offset += l
                .chars()
                .take(col.saturating_sub(1))
                .map(char::len_utf8)
                .sum::<usize>();
            break;
        }
        offset += l.len();
    }
    text.span_of(offset.min(text.text.len()), 1)
}

/// Where a variable path is used: its first occurrence inside `{{ … }}`.
fn find_in_mustache(text: &str, path: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(open) = text[from..].find("{{").map(|i| from + i) {
        let close = text[open..]
            .find("}}")
            .map(|i| open + i)
            .unwrap_or(text.len());
        if let Some(i) = text[open..close].find(path) {
            return Some(open + i);
        }
        from = close;
    }
    None
}

/// The variable paths each template reads, compiled once per template and
/// checked at every place a process uses it. Keyed by declaration.
#[derive(Default)]
pub struct Compiled {
    paths: HashMap<DeclRef, Vec<(usize, Vec<String>)>>,
}

/// Compiles every template of a file, reporting E0405, and remembers the
/// variables each one reads.
pub fn compile_all(
    fi: usize,
    templates: &[Template],
    compiled: &mut Compiled,
    diags: &mut Vec<Diagnostic>,
) {
    for (index, template) in templates.iter().enumerate() {
        let parts = check_compiles(template, diags);
        compiled.paths.insert(DeclRef { file: fi, index }, parts);
    }
}

/// Compiles one template; returns `(part, paths)` for the parts that compile
/// (part 0 is the subject, 1 the body).
fn check_compiles(template: &Template, diags: &mut Vec<Diagnostic>) -> Vec<(usize, Vec<String>)> {
    let mut compiled = Vec::new();
    if template.body.is_none() && template.subject.is_none() {
        diags.push(
            Diagnostic::new(
                "E0405",
                template.name.span,
                format!(
                    "template `{}` has no subject and no body",
                    template.name.name
                ),
            )
            .label("empty template")
            .help("add `subject \"…\"` and `body \"…\"`"),
        );
    }
    for (part, text) in [(0, &template.subject), (1, &template.body)] {
        let Some(text) = text else { continue };
        let err = match HbTemplate::compile(&text.text) {
            Ok(t) => {
                let mut paths = Vec::new();
                collect_paths(&t, &mut paths);
                compiled.push((part, paths));
                continue;
            }
            Err(err) => err,
        };
        {
            let span = match err.pos() {
                Some((line, col)) => span_at(text, line, col),
                None => text.span,
            };
            // Handlebars' own reasons name its grammar rules; keep only plain ones.
            let reason = err.reason().to_string();
            let reason = if reason.contains("expected") || reason.len() > 80 {
                "invalid handlebars syntax".to_string()
            } else {
                reason
            };
            diags.push(
                Diagnostic::new(
                    "E0405",
                    span,
                    format!("template `{}` does not compile: {reason}", template.name.name),
                )
                .label("handlebars cannot parse this")
                .help("check that every `{{` has a matching `}}` and every `{{#block}}` its `{{/block}}`"),
            );
        }
    }
    compiled
}

/// Collects the variable paths a template reads (outside `each`/`with` bodies,
/// whose paths are relative to the iterated item).
fn collect_paths(t: &HbTemplate, out: &mut Vec<String>) {
    for el in &t.elements {
        match el {
            TemplateElement::Expression(h) | TemplateElement::HtmlExpression(h) => {
                helper_paths(h, out)
            }
            TemplateElement::HelperBlock(h) => {
                helper_paths(h, out);
                let scoped = matches!(&h.name, Parameter::Name(n) if n == "each" || n == "with");
                if !scoped {
                    if let Some(inner) = &h.template {
                        collect_paths(inner, out);
                    }
                }
                if let Some(inverse) = &h.inverse {
                    collect_paths(inverse, out);
                }
            }
            _ => {}
        }
    }
}

fn helper_paths(h: &HelperTemplate, out: &mut Vec<String>) {
    let mut push = |p: &Parameter| {
        if let Parameter::Path(Path::Relative((_, raw))) = p {
            out.push(raw.clone());
        }
    };
    push(&h.name);
    h.params.iter().for_each(&mut push);
    h.hash.values().for_each(&mut push);
}

/// Checks a template reference at the place a process uses it.
pub fn check_use(ctx: &ProcessCtx, name: &Ident, context: Context, diags: &mut Vec<Diagnostic>) {
    let Some(r) = ctx.env.resolve(ctx.fi, Kind::Template, name, diags) else {
        return;
    };
    let template = ctx.env.template(r);
    let Some(parts) = ctx.templates.paths.get(&r) else {
        return;
    };
    for (part, paths) in parts {
        let text = if *part == 0 {
            &template.subject
        } else {
            &template.body
        };
        let Some(text) = text else { continue };
        for raw in paths {
            check_path(ctx, name, template, text, raw, context, diags);
        }
    }
}

fn check_path(
    ctx: &ProcessCtx,
    used_at: &Ident,
    template: &Template,
    text: &TemplateText,
    raw: &str,
    context: Context,
    diags: &mut Vec<Diagnostic>,
) {
    let path = raw.strip_prefix("@root.").unwrap_or(raw);
    if path.starts_with('@') || path.starts_with("this") || path.starts_with("../") {
        return;
    }
    let mut segs = path.split(['.', '/']);
    let root = segs.next().unwrap_or("");
    let prop = segs.next();
    let span = match find_in_mustache(&text.text, raw) {
        Some(i) => text.span_of(i, raw.len()),
        None => text.span,
    };
    let vars: Vec<(&str, &[&str])> = COMMON_VARIABLES
        .iter()
        .chain(context_variables(context))
        .copied()
        .collect();
    let problem = if root == "record" {
        let Some(record) = ctx.record else { return };
        match prop {
            Some(f) if ctx.fields.contains_key(f) => None,
            Some(f) => Some((
                format!(
                    "template `{}` reads `record.{f}`, but record `{}` has no `{f}`",
                    template.name.name, record.name.name
                ),
                suggest(f, ctx.fields.keys().copied())
                    .map(|s| format!("did you mean `record.{s}`?")),
            )),
            None => None,
        }
    } else if let Some((_, props)) = vars.iter().find(|(r, _)| *r == root) {
        match prop {
            Some(p) if !props.contains(&p) => Some((
                format!(
                    "template `{}` reads `{root}.{p}`, which does not exist",
                    template.name.name
                ),
                Some(format!("`{root}` has: {}", props.join(", "))),
            )),
            _ => None,
        }
    } else {
        let roots: Vec<&str> = std::iter::once("record")
            .chain(vars.iter().map(|(r, _)| *r))
            .collect();
        Some((
            format!(
                "template `{}` reads `{path}`, which is not available here",
                template.name.name
            ),
            Some(match suggest(root, roots.iter().copied()) {
                Some(s) => format!("did you mean `{s}`?"),
                None => format!("templates here can read: {}", roots.join(", ")),
            }),
        ))
    };
    if let Some((message, help)) = problem {
        let mut d = Diagnostic::new("E0406", span, message)
            .label("undeclared variable")
            .with_secondary(
                used_at.span,
                format!("used by process `{}` here", ctx.proc.name.name),
            );
        if let Some(help) = help {
            d = d.help(help);
        }
        diags.push(d);
    }
}
