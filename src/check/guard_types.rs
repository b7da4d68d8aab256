//! Guard typing (E0411–E0414): a guard that passes `check` evaluates to
//! `true` or `false` at runtime, never to an error and never to a silent
//! `false` because two values of different types were compared.
//!
//! rhai stays the evaluator; this module walks the AST rhai parsed (the
//! same parser the runtime uses, without optimization so the tree is what
//! was written) and accepts a small typed subset:
//!
//! - literals: `true`/`false`, whole and decimal numbers, `"text"`, `()`,
//!   and lists of literals `["a", "b"]`;
//! - `record.FIELD`, `actor.id`, `actor.roles`, `instance.id`,
//!   `instance.process`, `instance.state`, `instance.revision`,
//!   `instance.created_at`;
//! - `==` `!=` `<` `<=` `>` `>=`, `&&` `||` `!`, `x in LIST`, and
//!   `FIELD ?? LITERAL`.
//!
//! How the runtime binds values (see [`crate::script::guard_scope`]), and
//! so how the types are read here:
//! - text, date, datetime, duration and the enumerated types (level,
//!   priority, enum) are strings; int is an integer; decimal an integer or a
//!   float (both compare as numbers); bool a boolean; ref an integer id; list
//!   and log are arrays;
//! - an unset field with a `default` reads as its default; an unset list or
//!   log reads as `[]`; any other unset field reads as `()`. A comparison
//!   with `()` is `false` (`!=` is `true`), so `record.f == "x"` is simply
//!   false while `f` is unset. Such "maybe unset" fields cannot be used
//!   where rhai needs a boolean (`&&`, `||`, `!`, the whole guard): that
//!   would be a runtime error, so it is E0413 with the fix
//!   (`record.f == true`, `record.f ?? false`, or a default).
//!
//! Comparisons are allowed only where their meaning is the written one:
//! enumerated values only with `==`, `!=` and `in` (their text order is not
//! their order: "high" < "low"), datetimes and durations only against `()`
//! (their text does not order by time), and every string literal compared
//! with an enumerated field, `instance.state` or `actor.roles` must be one
//! of its values.

use rhai::{Expr, Position, AST};

use super::resolve::{suggest, Kind};
use super::ProcessCtx;
use crate::diag::Diagnostic;
use crate::ir::FieldType;
use crate::syntax::ast::Guard;
use crate::syntax::span::Span;

/// The type of a guard expression.
#[derive(Debug, Clone, PartialEq)]
enum Ty {
    Bool,
    /// int or decimal: rhai compares integers and floats numerically.
    Number,
    Text,
    /// A string literal, typed by what it is compared with.
    Str(String),
    /// An enumerated text: level, priority, enum, `instance.state`, a role.
    Values {
        what: String,
        values: Vec<String>,
    },
    Date,
    /// Kept as text that does not order by its meaning (datetime, duration).
    Opaque(String),
    /// An instance id (`ref P`).
    Ref(String),
    List(Box<Ty>),
    /// `()`, the value of an unset field.
    Unit,
    /// The empty list literal `[]`.
    EmptyList,
}

impl Ty {
    fn of_field(ty: &FieldType) -> Ty {
        match ty {
            FieldType::Text => Ty::Text,
            FieldType::Int | FieldType::Decimal => Ty::Number,
            FieldType::Bool => Ty::Bool,
            FieldType::Date => Ty::Date,
            FieldType::Datetime | FieldType::Duration => Ty::Opaque(ty.describe()),
            FieldType::Level | FieldType::Priority | FieldType::Enum(_) => Ty::Values {
                what: ty.describe(),
                values: ty
                    .values()
                    .unwrap_or_default()
                    .into_iter()
                    .map(String::from)
                    .collect(),
            },
            FieldType::Ref(p) => Ty::Ref(p.clone()),
            FieldType::Log => Ty::List(Box::new(Ty::Opaque("log entry".into()))),
            FieldType::List(inner) => Ty::List(Box::new(Ty::of_field(inner))),
        }
    }

    /// The type with its article, for messages: "a `bool`", "an `enum(a, b)`".
    fn a(&self) -> String {
        if matches!(self, Ty::Unit) {
            return "`()` (unset)".into();
        }
        let d = self.describe();
        let article = if d.starts_with(['a', 'e', 'i', 'o', 'u']) {
            "an"
        } else {
            "a"
        };
        format!("{article} `{d}`")
    }

    fn describe(&self) -> String {
        match self {
            Ty::Bool => "bool".into(),
            Ty::Number => "number".into(),
            Ty::Text => "text".into(),
            Ty::Str(_) => "text".into(),
            Ty::Values { what, .. } => what.clone(),
            Ty::Date => "date".into(),
            Ty::Opaque(what) => what.clone(),
            Ty::Ref(p) => format!("ref {p}"),
            Ty::List(inner) => format!("list of {}", inner.describe()),
            Ty::Unit => "`()` (unset)".into(),
            Ty::EmptyList => "empty list".into(),
        }
    }
}

/// A typed operand: its type, whether it may be `()` at runtime, where it
/// is, and how it reads (for messages).
#[derive(Debug, Clone)]
struct Typed {
    ty: Ty,
    maybe_unset: bool,
    span: Span,
    text: String,
    /// The field behind `record.F`, for "declared here" labels and helps.
    field: Option<String>,
}

struct Typer<'c, 'a> {
    ctx: &'c ProcessCtx<'a>,
    guard: &'c Guard,
    diags: Vec<Diagnostic>,
}

/// Type-checks a guard that already compiled and reads only declared names.
pub fn check(ctx: &ProcessCtx, guard: &Guard, ast: &AST, diags: &mut Vec<Diagnostic>) {
    let [rhai::Stmt::Expr(expr)] = ast.statements() else {
        return;
    };
    let mut t = Typer {
        ctx,
        guard,
        diags: Vec::new(),
    };
    if let Some(top) = t.expr(expr) {
        t.want_bool(&top, "the guard");
    }
    // One finding per guard is enough to act on; later ones are usually
    // consequences of the first.
    diags.extend(t.diags.into_iter().take(1));
}

impl Typer<'_, '_> {
    fn span_at(&self, pos: Position) -> Span {
        super::guards::offset_of(self.guard, pos)
    }

    /// The text `expr` covers: the union of its parts' spans.
    fn span_of(&self, expr: &Expr) -> Span {
        let union = |a: Span, b: Span| {
            Span::new(
                a.file,
                a.start.min(b.start) as usize,
                a.end.max(b.end) as usize,
            )
        };
        match expr {
            Expr::Dot(b, _, _) | Expr::Index(b, _, _) => {
                union(self.span_of(&b.lhs), self.span_of(&b.rhs))
            }
            Expr::FnCall(f, pos) => f
                .args
                .iter()
                .fold(self.span_at(*pos), |acc, a| union(acc, self.span_of(a))),
            Expr::And(items, pos) | Expr::Or(items, pos) | Expr::Coalesce(items, pos) => items
                .iter()
                .fold(self.span_at(*pos), |acc, a| union(acc, self.span_of(a))),
            Expr::StringConstant(_, pos) => self.string_span(*pos),
            Expr::Array(_, pos) | Expr::Map(_, pos) => self.bracket_span(*pos),
            _ => self.span_at(expr.position()),
        }
    }

    /// From an opening bracket to its matching closing one.
    fn bracket_span(&self, pos: Position) -> Span {
        let start = self.span_at(pos);
        let from = (start.start - self.guard.span.start) as usize;
        let rest = self.guard.source.get(from..).unwrap_or("");
        let mut depth = 0usize;
        let mut in_string = false;
        let mut escaped = false;
        let mut end = rest.len();
        for (i, c) in rest.char_indices() {
            if in_string {
                match c {
                    '\\' if !escaped => escaped = true,
                    '"' if !escaped => in_string = false,
                    _ => escaped = false,
                }
                continue;
            }
            match c {
                '"' => in_string = true,
                '[' | '{' | '(' => depth += 1,
                ']' | '}' | ')' => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        end = i + 1;
                        break;
                    }
                }
                _ => {}
            }
        }
        Span::new(start.file, start.start as usize, start.start as usize + end)
    }

    fn text(&self, span: Span) -> String {
        let start = (span.start - self.guard.span.start) as usize;
        let end = (span.end - self.guard.span.start) as usize;
        self.guard
            .source
            .get(start..end.min(self.guard.source.len()))
            .unwrap_or("")
            .to_string()
    }

    fn typed(&self, ty: Ty, maybe_unset: bool, span: Span, field: Option<String>) -> Typed {
        Typed {
            ty,
            maybe_unset,
            span,
            text: self.text(span),
            field,
        }
    }

    fn report(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }

    fn outside_subset(&mut self, span: Span, what: &str) {
        self.report(
            Diagnostic::new("E0414", span, format!("guards cannot use {what}"))
                .label("not part of the guard language")
                .help("guards compare values: literals, `record.FIELD`, `actor.id`, `actor.roles`, `instance.state`…, with `==` `!=` `<` `<=` `>` `>=`, `&&` `||` `!`, `in [..]` and `??`"),
        );
    }

    fn expr(&mut self, expr: &Expr) -> Option<Typed> {
        let span = self.span_of(expr);
        match expr {
            Expr::BoolConstant(..) => Some(self.typed(Ty::Bool, false, span, None)),
            Expr::IntegerConstant(..) | Expr::FloatConstant(..) => {
                Some(self.typed(Ty::Number, false, span, None))
            }
            Expr::StringConstant(s, pos) => {
                let span = self.string_span(*pos);
                Some(self.typed(Ty::Str(s.to_string()), false, span, None))
            }
            Expr::Unit(..) => Some(self.typed(Ty::Unit, false, span, None)),
            Expr::Array(items, _) => self.list(items, span),
            Expr::And(items, _) | Expr::Or(items, _) => {
                let mut ok = true;
                for item in items.iter() {
                    match self.expr(item) {
                        Some(t) => ok &= self.want_bool(&t, "an operand of `&&` and `||`"),
                        None => ok = false,
                    }
                }
                ok.then(|| self.typed(Ty::Bool, false, span, None))
            }
            Expr::Coalesce(items, _) => self.coalesce(items, span),
            Expr::Dot(b, _, _) => self.member(&b.lhs, &b.rhs, span),
            Expr::FnCall(f, pos) => self.call(f, *pos, span),
            Expr::Variable(..) => {
                self.outside_subset(span, "a whole `record`, `actor` or `instance`");
                None
            }
            Expr::Index(..) => {
                self.outside_subset(span, "indexing (`[..]` after a value)");
                None
            }
            Expr::MethodCall(..) => {
                self.outside_subset(span, "method calls");
                None
            }
            Expr::InterpolatedString(..) => {
                self.outside_subset(span, "interpolated strings");
                None
            }
            Expr::CharConstant(..) => {
                self.outside_subset(span, "character literals; write text in double quotes");
                None
            }
            Expr::Map(..) => {
                self.outside_subset(span, "object maps");
                None
            }
            _ => {
                self.outside_subset(span, "this kind of expression");
                None
            }
        }
    }

    /// A string literal's span: from its opening quote to its closing one.
    fn string_span(&self, pos: Position) -> Span {
        let start = self.span_at(pos);
        let from = (start.start - self.guard.span.start) as usize;
        let rest = self.guard.source.get(from..).unwrap_or("");
        let mut end = rest.len();
        let mut escaped = false;
        for (i, c) in rest.char_indices().skip(1) {
            match c {
                '\\' if !escaped => escaped = true,
                '"' if !escaped => {
                    end = i + 1;
                    break;
                }
                _ => escaped = false,
            }
        }
        Span::new(start.file, start.start as usize, start.start as usize + end)
    }

    fn list(&mut self, items: &[Expr], span: Span) -> Option<Typed> {
        let mut elem: Option<Ty> = None;
        for item in items {
            let t = self.expr(item)?;
            match (&t.ty, &elem) {
                (Ty::Str(_) | Ty::Number | Ty::Bool, None) => {
                    elem = Some(match t.ty {
                        Ty::Str(_) => Ty::Text,
                        other => other,
                    })
                }
                (Ty::Str(_), Some(Ty::Text))
                | (Ty::Number, Some(Ty::Number))
                | (Ty::Bool, Some(Ty::Bool)) => {}
                (Ty::Str(_) | Ty::Number | Ty::Bool, Some(e)) => {
                    let e = e.describe();
                    self.report(
                        Diagnostic::new(
                            "E0411",
                            t.span,
                            format!("list mixes `{e}` and `{}` values", t.ty.describe()),
                        )
                        .label(format!("{} among `{e}` values", t.ty.a()))
                        .help("write a list of values of one type, e.g. `[\"high\", \"medium\"]`"),
                    );
                    return None;
                }
                _ => {
                    self.outside_subset(t.span, "anything but literals inside a list");
                    return None;
                }
            }
        }
        let ty = match elem {
            None => Ty::EmptyList,
            Some(e) => Ty::List(Box::new(e)),
        };
        Some(self.typed(ty, false, span, None))
    }

    /// `record.F`, `actor.P`, `instance.P`.
    fn member(&mut self, lhs: &Expr, rhs: &Expr, span: Span) -> Option<Typed> {
        let (Expr::Variable(v, _, _), Expr::Property(p, _)) = (lhs, rhs) else {
            let what = match rhs {
                Expr::MethodCall(..) => "method calls",
                Expr::Dot(..) | Expr::Index(..) => "nested properties",
                _ => "this kind of expression",
            };
            self.outside_subset(span, what);
            return None;
        };
        let root = v.1.as_str();
        let prop = p.2.as_str();
        match root {
            "record" => {
                let info = self.ctx.fields.get(prop)?;
                let field_ty = info.ty.as_ref()?;
                let ty = Ty::of_field(field_ty);
                let maybe_unset = !surely_set(self.ctx, prop, field_ty);
                Some(self.typed(ty, maybe_unset, span, Some(prop.to_string())))
            }
            "actor" => {
                let ty = match prop {
                    "id" => Ty::Text,
                    "roles" => Ty::List(Box::new(Ty::Values {
                        what: "role".into(),
                        values: Vec::new(),
                    })),
                    _ => return None,
                };
                Some(self.typed(ty, false, span, None))
            }
            "instance" => {
                let ty = match prop {
                    "id" | "revision" => Ty::Number,
                    "process" => Ty::Values {
                        what: "process".into(),
                        values: vec![self.ctx.proc.name.name.clone()],
                    },
                    "state" => Ty::Values {
                        what: "state".into(),
                        values: self
                            .ctx
                            .proc
                            .states
                            .iter()
                            .map(|s| s.name.name.clone())
                            .collect(),
                    },
                    "created_at" => Ty::Opaque("datetime".into()),
                    _ => {
                        self.report(
                            Diagnostic::new(
                                "E0404",
                                span,
                                format!("guard reads `instance.{prop}`, which guards cannot see"),
                            )
                            .label("not available to guards")
                            .help(format!(
                                "guards can read `instance.{}`",
                                crate::script::GUARD_INSTANCE_PROPERTIES.join("`, `instance.")
                            )),
                        );
                        return None;
                    }
                };
                Some(self.typed(ty, false, span, None))
            }
            _ => None,
        }
    }

    fn call(&mut self, f: &rhai::FnCallExpr, pos: Position, span: Span) -> Option<Typed> {
        let name = f.name.as_str();
        let op_span = self.span_at(pos);
        match (name, f.args.len()) {
            ("!", 1) => {
                let t = self.expr(&f.args[0])?;
                self.want_bool(&t, "the operand of `!`")
                    .then(|| self.typed(Ty::Bool, false, span, None))
            }
            ("==" | "!=" | "<" | "<=" | ">" | ">=", 2) => {
                let a = self.expr(&f.args[0])?;
                let b = self.expr(&f.args[1])?;
                self.compare(name, &a, &b, op_span)
                    .then(|| self.typed(Ty::Bool, false, span, None))
            }
            ("contains", 2) if f.namespace.is_empty() => {
                // `x in list` is parsed as `contains(list, x)`.
                let list = self.expr(&f.args[0])?;
                let item = self.expr(&f.args[1])?;
                self.contains(&list, &item, op_span)
                    .then(|| self.typed(Ty::Bool, false, span, None))
            }
            ("+" | "-" | "*" | "/" | "%" | "**", _) => {
                self.outside_subset(
                    op_span,
                    &format!("arithmetic (`{name}`); compare fields with values instead"),
                );
                None
            }
            _ if f.op_token.is_some() => {
                self.outside_subset(op_span, &format!("the operator `{name}`"));
                None
            }
            _ => {
                self.outside_subset(op_span, &format!("function calls (`{name}`)"));
                None
            }
        }
    }

    /// `record.F ?? LITERAL`: the field, or the literal while it is unset.
    fn coalesce(&mut self, items: &[Expr], span: Span) -> Option<Typed> {
        let (first, rest) = items.split_first()?;
        let mut acc = self.expr(first)?;
        for item in rest {
            let b = self.expr(item)?;
            if !self.compatible(&acc, &b, "??") {
                return None;
            }
            acc = Typed {
                ty: acc.ty.clone(),
                maybe_unset: b.maybe_unset || matches!(b.ty, Ty::Unit),
                span,
                text: self.text(span),
                field: acc.field.clone(),
            };
        }
        Some(acc)
    }

    /// Whether `t` is surely a boolean at runtime; reports E0413 otherwise.
    fn want_bool(&mut self, t: &Typed, role: &str) -> bool {
        if t.ty == Ty::Bool && !t.maybe_unset {
            return true;
        }
        let mut d = Diagnostic::new(
            "E0413",
            t.span,
            if t.ty == Ty::Bool {
                format!(
                    "`{}` may be unset, but {role} must be true or false",
                    t.text
                )
            } else {
                format!(
                    "{role} must be true or false, but `{}` is {}",
                    t.text,
                    t.ty.a()
                )
            },
        );
        d = if t.ty == Ty::Bool {
            let field = t.field.clone().unwrap_or_default();
            let fix = if role.contains('!') {
                format!(
                    "write `{0} != true` instead of `!{0}` (true while unset)",
                    t.text
                )
            } else {
                format!("write `{} == true` (false while unset)", t.text)
            };
            d.label("reads `()` while the field is unset, which is an error for `&&`, `||`, `!`")
                .help(format!(
                    "{fix}, or give `{field}` a default: `{field} bool default false`"
                ))
        } else {
            d.label(format!("this is {}", t.ty.a())).help(match &t.ty {
                Ty::Values { values, .. } if !values.is_empty() => format!(
                    "compare it with a value: `{} == \"{}\"` (values: {})",
                    t.text,
                    values[0],
                    values.join(", ")
                ),
                Ty::Number => format!("compare it: `{} > 0`", t.text),
                Ty::Text | Ty::Str(_) => format!("compare it: `{} == \"…\"`", t.text),
                _ => format!("test whether it is set: `{} != ()`", t.text),
            })
        };
        if let Some(f) = &t.field {
            if let Some(info) = self.ctx.fields.get(f.as_str()) {
                d = d.with_secondary(info.decl.name.span, "declared here");
            }
        }
        self.report(d);
        false
    }

    /// A string literal against a type with a fixed set of values.
    fn check_value(
        &mut self,
        what: &str,
        values: &[String],
        lit: &str,
        span: Span,
        other: &Typed,
    ) -> bool {
        if what == "role" {
            if self.ctx.env.lookup(self.ctx.fi, Kind::Role, lit).is_some() {
                return true;
            }
            let known = self.ctx.env.visible(self.ctx.fi, Kind::Role);
            let mut d = Diagnostic::new("E0412", span, format!("`{lit}` is not a role"))
                .label("no role of this name is visible here");
            d = match suggest(lit, known.iter().copied()) {
                Some(s) => d.help(format!("did you mean `{s}`?")),
                None => d.help("compare with a role declared or used in this file, e.g. `\"service_desk\" in actor.roles`"),
            };
            self.report(d);
            return false;
        }
        if values.iter().any(|v| v == lit) {
            return true;
        }
        let mut d = Diagnostic::new(
            "E0412",
            span,
            format!("`{lit}` is not a value of `{}`", other.text),
        )
        .label(format!("not one of the values of `{}`", other.text));
        d = match suggest(lit, values.iter().map(String::as_str)) {
            Some(s) => d.help(format!(
                "did you mean `\"{s}\"`? the values are {}",
                quoted(values)
            )),
            None => d.help(format!(
                "the values of `{}` are {}",
                other.text,
                quoted(values)
            )),
        };
        if let Some(f) = &other.field {
            if let Some(info) = self.ctx.fields.get(f.as_str()) {
                d = d.with_secondary(
                    info.decl.ty.span(),
                    format!("`{f}` is declared `{what}` here"),
                );
            }
        }
        self.report(d);
        false
    }

    /// Whether `a` and `b` can be compared for equality (or coalesced).
    fn compatible(&mut self, a: &Typed, b: &Typed, op: &str) -> bool {
        use Ty::*;
        match (&a.ty, &b.ty) {
            (Unit, _) | (_, Unit) => {
                let side = if matches!(a.ty, Unit) { b } else { a };
                return self.may_be_unit(side, op);
            }
            (Bool, Bool) | (Number, Number) | (Text, Text) | (Date, Date) => return true,
            (Text, Str(_)) | (Str(_), Text) | (Str(_), Str(_)) => return true,
            (Values { what, values }, Str(lit)) => {
                let (what, values, lit) = (what.clone(), values.clone(), lit.clone());
                return self.check_value(&what, &values, &lit, b.span, a);
            }
            (Str(lit), Values { what, values }) => {
                let (what, values, lit) = (what.clone(), values.clone(), lit.clone());
                return self.check_value(&what, &values, &lit, a.span, b);
            }
            (Values { values: x, .. }, Values { values: y, .. }) if x == y => return true,
            (Date, Str(lit)) | (Str(lit), Date) => {
                let lit_span = if matches!(a.ty, Str(_)) {
                    a.span
                } else {
                    b.span
                };
                let date = if matches!(a.ty, Date) { a } else { b };
                if lit.len() == 10 && lit.parse::<jiff::civil::Date>().is_ok() {
                    return true;
                }
                let d = Diagnostic::new(
                    "E0412",
                    lit_span,
                    format!("`{lit}` is not a date, but `{}` is a date", date.text),
                )
                .label("dates are written YYYY-MM-DD")
                .help(format!(
                    "write a real date, e.g. `{} {op} \"2026-03-31\"`",
                    date.text
                ));
                self.report(d);
                return false;
            }
            (List(x), List(y)) if x == y && op == "??" => return true,
            (List(_), EmptyList) if op == "??" => return true,
            _ => {}
        }
        self.mismatch(a, b, op);
        false
    }

    /// `F == ()` tests whether F is unset; a field that reads its default
    /// (or `[]`) while unset never is `()`, so the test would always fail.
    fn may_be_unit(&mut self, t: &Typed, op: &str) -> bool {
        if t.maybe_unset || t.field.is_none() {
            return true;
        }
        let field = t.field.clone().unwrap_or_default();
        let Some(info) = self.ctx.fields.get(field.as_str()) else {
            return true;
        };
        let why = if info.decl.default.is_some() {
            "it reads as its default while unset"
        } else if info.decl.required.is_some() {
            "it is `required`, so always set"
        } else {
            "an unset list reads as `[]`"
        };
        let mut d = Diagnostic::new(
            "E0411",
            t.span,
            format!(
                "`{}` is never `()` in a guard, so `{op} ()` always gives the same answer",
                t.text
            ),
        )
        .label(why.to_string())
        .with_secondary(info.decl.name.span, "declared here");
        d = d.help(match &t.ty {
            Ty::List(_) => format!("test membership instead: `\"…\" in {}`", t.text),
            _ => example(t, "=="),
        });
        self.report(d);
        false
    }

    fn mismatch(&mut self, a: &Typed, b: &Typed, op: &str) {
        let (field_side, other) = if a.field.is_some() || b.field.is_none() {
            (a, b)
        } else {
            (b, a)
        };
        let mut d = Diagnostic::new(
            "E0411",
            other.span,
            format!(
                "`{}` is {} but `{}` is {}",
                field_side.text,
                field_side.ty.a(),
                other.text,
                other.ty.a()
            ),
        )
        .label(format!(
            "`{op}` between {} and {} is always false at runtime",
            field_side.ty.a(),
            other.ty.a()
        ));
        if op == "??" {
            d = d.label("the value used while the field is unset has another type");
        }
        d = d.help(example(field_side, op));
        if let Some(f) = &field_side.field {
            if let Some(info) = self.ctx.fields.get(f.as_str()) {
                d = d.with_secondary(
                    info.decl.ty.span(),
                    format!("`{f}` is declared `{}` here", field_side.ty.describe()),
                );
            }
        }
        self.report(d);
    }

    fn compare(&mut self, op: &str, a: &Typed, b: &Typed, op_span: Span) -> bool {
        if matches!(op, "==" | "!=") {
            return self.compatible(a, b, op);
        }
        // Ordering: numbers, dates and text only; never against `()` (an
        // unset field already makes the comparison false).
        for t in [a, b] {
            let ordered = matches!(t.ty, Ty::Number | Ty::Date | Ty::Text | Ty::Str(_));
            if !ordered {
                let mut d = Diagnostic::new(
                    "E0411",
                    op_span,
                    format!("`{op}` cannot order `{}`, which is {}", t.text, t.ty.a()),
                )
                .label(match &t.ty {
                    Ty::Values { .. } => {
                        "its values are text, and text order is not their order".to_string()
                    }
                    Ty::Opaque(_) => "its values are text that does not sort by time".to_string(),
                    Ty::Unit => "`()` has no order".to_string(),
                    _ => format!("{} has no order", t.ty.a()),
                });
                d = d.help(match &t.ty {
                    Ty::Values { values, .. } if !values.is_empty() => format!(
                        "list the values you mean: `{} in [{}]` (values: {})",
                        t.text,
                        values.iter().take(2).map(|v| format!("\"{v}\"")).collect::<Vec<_>>().join(", "),
                        values.join(", ")
                    ),
                    Ty::Opaque(_) => format!(
                        "guards can only test whether `{}` is set (`!= ()`); keep a `date` field for comparisons by day",
                        t.text
                    ),
                    _ => "compare numbers, dates or text".to_string(),
                });
                if let Some(f) = &t.field {
                    if let Some(info) = self.ctx.fields.get(f.as_str()) {
                        d = d.with_secondary(
                            info.decl.ty.span(),
                            format!("`{f}` is declared `{}` here", t.ty.describe()),
                        );
                    }
                }
                self.report(d);
                return false;
            }
        }
        match (&a.ty, &b.ty) {
            (Ty::Number, Ty::Number)
            | (Ty::Text | Ty::Str(_), Ty::Text | Ty::Str(_))
            | (Ty::Date, Ty::Date) => true,
            (Ty::Date, Ty::Str(_)) | (Ty::Str(_), Ty::Date) => self.compatible(a, b, op),
            _ => {
                self.mismatch(a, b, op);
                false
            }
        }
    }

    /// `item in list`.
    fn contains(&mut self, list: &Typed, item: &Typed, op_span: Span) -> bool {
        let elem = match &list.ty {
            Ty::List(e) => (**e).clone(),
            Ty::EmptyList => return true,
            other => {
                let d = Diagnostic::new(
                    "E0411",
                    list.span,
                    format!("`in` needs a list, but `{}` is {}", list.text, other.a()),
                )
                .label("not a list")
                .help(format!(
                    "write the values as a list: `{} in [\"a\", \"b\"]`",
                    item.text
                ));
                self.report(d);
                let _ = op_span;
                return false;
            }
        };
        let as_elem = Typed {
            ty: elem.clone(),
            maybe_unset: false,
            span: list.span,
            text: format!("an element of {}", list.text),
            field: list.field.clone(),
        };
        match (&item.ty, &list.field) {
            // `record.F in ["a", "b"]`: every literal must fit F.
            (_, None)
                if matches!(list.ty, Ty::List(_)) && list.text.trim_start().starts_with('[') =>
            {
                self.list_fits(item, list)
            }
            _ => self.compatible(item, &as_elem, "in"),
        }
    }

    /// Every literal of `list` (a list literal) is a value `item` can hold.
    fn list_fits(&mut self, item: &Typed, list: &Typed) -> bool {
        let Ty::List(elem) = &list.ty else {
            return true;
        };
        match (&item.ty, elem.as_ref()) {
            (Ty::Values { what, values }, Ty::Text) => {
                // Re-read the literals to check each one.
                let lits: Vec<(String, Span)> = self.literals_in(list.span);
                let (what, values) = (what.clone(), values.clone());
                lits.into_iter()
                    .all(|(lit, span)| self.check_value(&what, &values, &lit, span, item))
            }
            (Ty::Text, Ty::Text) | (Ty::Number, Ty::Number) | (Ty::Bool, Ty::Bool) => true,
            (Ty::Date, Ty::Text) => {
                let lits = self.literals_in(list.span);
                lits.into_iter().all(|(lit, span)| {
                    let lit_t = Typed {
                        ty: Ty::Str(lit),
                        maybe_unset: false,
                        span,
                        text: String::new(),
                        field: None,
                    };
                    self.compatible(item, &lit_t, "in")
                })
            }
            _ => {
                let as_elem = Typed {
                    ty: (**elem).clone(),
                    maybe_unset: false,
                    span: list.span,
                    text: list.text.clone(),
                    field: None,
                };
                self.mismatch(item, &as_elem, "in");
                false
            }
        }
    }

    /// The string literals written inside `span` (a list literal).
    fn literals_in(&self, span: Span) -> Vec<(String, Span)> {
        let base = span.start as usize;
        let text = self.text(span);
        let mut out = Vec::new();
        let mut chars = text.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            if c != '"' {
                continue;
            }
            let mut value = String::new();
            let mut end = text.len();
            let mut escaped = false;
            for (j, c) in chars.by_ref() {
                match c {
                    '\\' if !escaped => escaped = true,
                    '"' if !escaped => {
                        end = j + 1;
                        break;
                    }
                    c => {
                        escaped = false;
                        value.push(c);
                    }
                }
            }
            out.push((value, Span::new(span.file, base + i, base + end)));
        }
        out
    }
}

/// Whether `record.F` can never read `()` in a guard: a default stands in
/// while unset, lists and logs read `[]`, `required` fields are set in
/// every state (and checked before the guard runs), and derived fields
/// whose inputs are all surely set are computed.
fn surely_set(ctx: &ProcessCtx, name: &str, ty: &FieldType) -> bool {
    let Some(info) = ctx.fields.get(name) else {
        return false;
    };
    let f = info.decl;
    if f.default.is_some() || f.required.is_some() {
        return true;
    }
    if matches!(ty, FieldType::List(_) | FieldType::Log) {
        return true;
    }
    match &f.derived {
        Some(d) => d.args.iter().all(|a| {
            ctx.fields
                .get(a.name.as_str())
                .is_some_and(|i| i.decl.required.is_some() || i.decl.default.is_some())
        }),
        None => false,
    }
}

fn quoted(values: &[String]) -> String {
    values
        .iter()
        .map(|v| format!("`\"{v}\"`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A comparison that works for `t`'s type, to show in a help.
fn example(t: &Typed, op: &str) -> String {
    let op = if matches!(op, "in" | "??") { "==" } else { op };
    match &t.ty {
        Ty::Bool => format!("compare with `true` or `false`: `{} {op} true`", t.text),
        Ty::Number => format!("compare with a number: `{} {op} 2`", t.text),
        Ty::Text => format!("compare with quoted text: `{} {op} \"…\"`", t.text),
        Ty::Date => format!(
            "compare with a quoted date: `{} {op} \"2026-03-31\"`",
            t.text
        ),
        Ty::Values { values, what } => format!(
            "`{}` is a `{what}`; compare with one of its values in quotes: {}",
            t.text,
            quoted(values)
        ),
        Ty::Opaque(_) | Ty::Ref(_) => {
            format!("test whether `{}` is set: `{} != ()`", t.text, t.text)
        }
        Ty::List(_) => format!("test membership: `\"…\" in {}`", t.text),
        _ => "compare values of the same type".to_string(),
    }
}
