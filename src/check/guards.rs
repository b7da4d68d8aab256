//! Guard checks (E0403, E0404): `when` expressions compile in the sandboxed
//! rhai engine and read only `record` fields that exist, `actor` and `instance`;
//! then [`super::guard_types`] checks their types (E0411–E0414).

use std::sync::OnceLock;

use rhai::{ASTNode, Engine, Expr, Position};

use super::resolve::suggest;
use super::ProcessCtx;
use crate::diag::Diagnostic;
use crate::script::{self, ACTOR_PROPERTIES, GUARD_INSTANCE_PROPERTIES, GUARD_ROOTS};
use crate::syntax::ast::Guard;
use crate::syntax::span::Span;

fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    // Unoptimized, so the tree the typer walks is the one written (constant
    // folding would hide `1 + 1 == 2`); parse errors are the same.
    ENGINE.get_or_init(|| {
        let mut e = script::sandboxed_engine();
        e.set_optimization_level(rhai::OptimizationLevel::None);
        e
    })
}

/// Byte offset in the file of a rhai position inside the guard.
pub(super) fn offset_of(guard: &Guard, pos: Position) -> Span {
    let (Some(line), col) = (pos.line(), pos.position().unwrap_or(1)) else {
        return guard.span;
    };
    let mut offset = 0;
    for (i, text) in guard.source.split_inclusive('\n').enumerate() {
        if i + 1 == line {
            let col_bytes: usize = text
                .chars()
                .take(col.saturating_sub(1))
                .map(char::len_utf8)
                .sum();
            offset += col_bytes;
            break;
        }
        offset += text.len();
    }
    let start = guard.span.start as usize + offset.min(guard.source.len());
    let rest = &guard.source[offset.min(guard.source.len())..];
    let len = rest
        .char_indices()
        .find(|(_, c)| !(c.is_alphanumeric() || *c == '_'))
        .map(|(i, _)| i)
        .unwrap_or(rest.len())
        .max(1)
        .min(rest.len().max(1));
    Span::new(
        guard.span.file,
        start,
        (start + len).min(guard.span.end as usize).max(start),
    )
}

/// The first property name of a chain such as `record.a.b` or `record.a.len()`.
fn first_property(expr: &Expr) -> Option<(&str, Position)> {
    match expr {
        Expr::Property(p, pos) => Some((p.2.as_str(), *pos)),
        Expr::Dot(b, _, _) | Expr::Index(b, _, _) => first_property(&b.lhs),
        Expr::StringConstant(s, pos) => Some((s.as_str(), *pos)),
        _ => None,
    }
}

fn variable_name(expr: &Expr) -> Option<&str> {
    match expr {
        Expr::Variable(v, _, _) => Some(v.1.as_str()),
        _ => None,
    }
}

pub fn check(ctx: &ProcessCtx, guard: &Guard, diags: &mut Vec<Diagnostic>) {
    if guard.source.len() > script::MAX_GUARD_BYTES {
        diags.push(
            Diagnostic::new("E0403", guard.span, "guard expression is too long")
                .label(format!("{} bytes", guard.source.len()))
                .help(format!(
                    "keep guards under {} bytes; split the condition into fields",
                    script::MAX_GUARD_BYTES
                )),
        );
        return;
    }
    let ast = match script::compile_guard(engine(), &guard.source) {
        Ok(ast) => ast,
        Err(err) => {
            let span = offset_of(guard, err.position());
            diags.push(
                Diagnostic::new(
                    "E0403",
                    span,
                    format!("guard does not compile: {}", err.err_type()),
                )
                .label("the expression breaks here")
                .help("guards are single rhai expressions, e.g. `record.priority == \"P1\" && record.major`"),
            );
            return;
        }
    };
    let mut found: Vec<(String, Position, Finding)> = Vec::new();
    ast.walk(&mut |path: &[ASTNode]| {
        let Some(ASTNode::Expr(expr)) = path.last() else {
            return true;
        };
        match expr {
            Expr::Variable(v, _, pos) if !GUARD_ROOTS.contains(&v.1.as_str()) => {
                found.push((v.1.to_string(), *pos, Finding::Variable));
            }
            Expr::Dot(b, _, _) | Expr::Index(b, _, _) => {
                if let (Some(root), Some((prop, pos))) =
                    (variable_name(&b.lhs), first_property(&b.rhs))
                {
                    found.push((prop.to_string(), pos, Finding::Property(root.to_string())));
                }
            }
            _ => {}
        }
        true
    });
    let before = diags.len();
    for (name, pos, finding) in found {
        let span = offset_of(guard, pos);
        match finding {
            Finding::Variable => {
                let mut d = Diagnostic::new(
                    "E0404",
                    span,
                    format!("guard reads `{name}`, which is not declared"),
                )
                .label("unknown name");
                d = if ctx.fields.contains_key(name.as_str()) {
                    d.help(format!(
                        "record fields are read through `record`: `record.{name}`"
                    ))
                } else {
                    d.help("guards can read `record.FIELD`, `actor.id`, `actor.roles` and `instance.state`")
                };
                diags.push(d);
            }
            Finding::Property(root) => {
                let known: Vec<&str> = match root.as_str() {
                    "record" => {
                        if ctx.record.is_none() {
                            continue;
                        }
                        ctx.fields.keys().copied().collect()
                    }
                    "actor" => ACTOR_PROPERTIES.to_vec(),
                    "instance" => GUARD_INSTANCE_PROPERTIES.to_vec(),
                    _ => continue,
                };
                if known.contains(&name.as_str()) {
                    continue;
                }
                let owner = match root.as_str() {
                    "record" => format!(
                        "record `{}`",
                        ctx.record.map(|r| r.name.name.as_str()).unwrap_or("")
                    ),
                    other => format!("`{other}`"),
                };
                let mut d = Diagnostic::new(
                    "E0404",
                    span,
                    format!("guard reads `{root}.{name}`, but {owner} has no `{name}`"),
                )
                .label(if root == "record" {
                    "undeclared field"
                } else {
                    "unknown property"
                });
                d = match suggest(&name, known.iter().copied()) {
                    Some(s) => d.help(format!("did you mean `{root}.{s}`?")),
                    None => {
                        let mut sorted = known.clone();
                        sorted.sort_unstable();
                        d.help(format!("{owner} has: {}", sorted.join(", ")))
                    }
                };
                diags.push(d);
            }
        }
    }
    // Types only once every name is known: an unknown field has no type.
    if diags.len() == before && ctx.record.is_some() {
        super::guard_types::check(ctx, guard, &ast, diags);
    }
}

enum Finding {
    Variable,
    Property(String),
}
