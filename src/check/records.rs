//! Record checks (E0205, E04xx): field types, defaults, derived fields and
//! their matrices, `required at` fields that an automatic path cannot set,
//! and links between processes.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};

use super::resolve::{check_unique, suggest, Env, Kind};
use super::{EdgeKind, ProcessCtx};
use crate::diag::Diagnostic;
use crate::ir::FieldType;
use crate::syntax::ast::{self, DurationUnit, LiteralKind, TypeExpr};

/// Resolves a written type without reporting (the record check reports).
pub fn resolve_type_quiet(env: &Env, fi: usize, ty: &TypeExpr) -> Option<FieldType> {
    resolve_type(env, fi, ty, &mut Vec::new())
}

/// Resolves a written type, reporting unknown names.
pub fn resolve_type(
    env: &Env,
    fi: usize,
    ty: &TypeExpr,
    diags: &mut Vec<Diagnostic>,
) -> Option<FieldType> {
    match ty {
        TypeExpr::Named(name) => {
            if let Some(t) = FieldType::builtin(&name.name) {
                return Some(t);
            }
            let mut d =
                Diagnostic::new("E0205", name.span, format!("unknown type `{}`", name.name))
                    .label("not a type");
            d = if let Some(s) = suggest(&name.name, FieldType::BUILTIN_NAMES.iter().copied()) {
                d.help(format!("did you mean `{s}`?"))
            } else if env.lookup(fi, Kind::Process, &name.name).is_some() {
                d.help(format!(
                    "to link to a `{0}` instance, write `ref {0}`",
                    name.name
                ))
            } else {
                d.help(format!(
                    "the types are {}, `enum(a, b)`, `ref PROCESS` and `list of TYPE`",
                    FieldType::BUILTIN_NAMES
                        .iter()
                        .map(|n| format!("`{n}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            };
            diags.push(d);
            None
        }
        TypeExpr::Enum(values, _) => {
            check_unique("enum value", values.iter(), diags);
            Some(FieldType::Enum(
                values.iter().map(|v| v.name.clone()).collect(),
            ))
        }
        TypeExpr::Ref(process, _) => {
            env.resolve(fi, Kind::Process, process, diags)?;
            Some(FieldType::Ref(process.name.clone()))
        }
        TypeExpr::List(inner, _) => {
            resolve_type(env, fi, inner, diags).map(|t| FieldType::List(Box::new(t)))
        }
    }
}

pub fn check_record(env: &Env, fi: usize, record: &ast::Record, diags: &mut Vec<Diagnostic>) {
    let names = check_unique("field", record.fields.iter().map(|f| &f.name), diags);
    let mut types: HashMap<&str, Option<FieldType>> = HashMap::new();
    for f in &record.fields {
        let ty = resolve_type(env, fi, &f.ty, diags);
        types.entry(f.name.name.as_str()).or_insert(ty);
    }
    for f in &record.fields {
        let Some(Some(ty)) = types.get(f.name.name.as_str()) else {
            continue;
        };
        if let Some(default) = &f.default {
            check_default(f, ty, default, diags);
        }
        if let Some(derived) = &f.derived {
            check_derived(env, fi, f, ty, derived, &names, &types, diags);
        }
    }
}

fn check_default(
    field: &ast::Field,
    ty: &FieldType,
    lit: &ast::Literal,
    diags: &mut Vec<Diagnostic>,
) {
    let fits = match (ty, &lit.kind) {
        (FieldType::Text, LiteralKind::String(_)) => true,
        (FieldType::Int, LiteralKind::Number(n)) => n.parse::<i64>().is_ok(),
        (FieldType::Decimal, LiteralKind::Number(_)) => true,
        (FieldType::Bool, LiteralKind::Ident(v)) => v == "true" || v == "false",
        (FieldType::Date, LiteralKind::Date(_)) => true,
        (FieldType::Datetime, LiteralKind::String(_)) => true,
        (FieldType::Duration, LiteralKind::Duration(_)) => true,
        (t, LiteralKind::Ident(v)) if t.values().is_some() => {
            t.values().is_some_and(|vals| vals.contains(&v.as_str()))
        }
        _ => false,
    };
    if fits {
        return;
    }
    let help = match ty {
        FieldType::Log | FieldType::List(_) | FieldType::Ref(_) => {
            format!(
                "a `{}` field starts empty and takes no default",
                ty.describe()
            )
        }
        FieldType::Bool => "write `default true` or `default false`".into(),
        FieldType::Text => "text defaults are quoted: `default \"n/a\"`".into(),
        FieldType::Int => "write a whole number, e.g. `default 0`".into(),
        FieldType::Datetime => "write an RFC 3339 time in quotes".into(),
        t => match t.values() {
            Some(values) => format!("the default must be one of {}", values.join(", ")),
            None => format!("write a value of type `{}`", t.describe()),
        },
    };
    diags.push(
        Diagnostic::new(
            "E0401",
            lit.span,
            format!(
                "default of `{}` is not a `{}`",
                field.name.name,
                ty.describe()
            ),
        )
        .label("this value does not fit the field's type")
        .help(help),
    );
}

#[allow(clippy::too_many_arguments)]
fn check_derived(
    env: &Env,
    fi: usize,
    field: &ast::Field,
    ty: &FieldType,
    derived: &ast::Derivation,
    names: &HashMap<&str, usize>,
    types: &HashMap<&str, Option<FieldType>>,
    diags: &mut Vec<Diagnostic>,
) {
    let Some(mref) = env.resolve(fi, Kind::Matrix, &derived.function, diags) else {
        return;
    };
    let matrix = env.matrix(mref);
    if derived.args.len() != matrix.params.len() {
        diags.push(
            Diagnostic::new(
                "E0407",
                derived.span,
                format!(
                    "matrix `{}` takes {} input{} but {} {} given",
                    matrix.name.name,
                    matrix.params.len(),
                    if matrix.params.len() == 1 { "" } else { "s" },
                    derived.args.len(),
                    if derived.args.len() == 1 { "is" } else { "are" }
                ),
            )
            .label("wrong number of inputs")
            .with_secondary(matrix.name.span, "matrix declared here")
            .help(format!(
                "pass one field for each of: {}",
                matrix
                    .params
                    .iter()
                    .map(|(n, _)| format!("`{}`", n.name))
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        );
        return;
    }
    for (arg, (param, pty)) in derived.args.iter().zip(&matrix.params) {
        if !names.contains_key(arg.name.as_str()) {
            diags.push(super::resolve::undefined_local(
                "field",
                arg,
                names.keys().copied(),
                "in this record",
            ));
            continue;
        }
        let want = resolve_type_quiet(env, fi, pty);
        if let (Some(Some(have)), Some(want)) = (types.get(arg.name.as_str()), want) {
            if *have != want {
                diags.push(
                    Diagnostic::new(
                        "E0407",
                        arg.span,
                        format!(
                            "`{}` is a `{}` but matrix input `{}` is a `{}`",
                            arg.name,
                            have.describe(),
                            param.name,
                            want.describe()
                        ),
                    )
                    .label("wrong type for this input")
                    .with_secondary(param.span, "input declared here")
                    .help(format!("pass a field of type `{}`", want.describe())),
                );
            }
        }
        if arg.name == field.name.name {
            diags.push(
                Diagnostic::new(
                    "E0407",
                    arg.span,
                    format!("`{}` is derived from itself", field.name.name),
                )
                .label("a field cannot be an input of its own derivation")
                .help("derive the field from other fields"),
            );
        }
    }
    if let Some(result) = resolve_type_quiet(env, fi, &matrix.result) {
        if result != *ty {
            diags.push(
                Diagnostic::new(
                    "E0407",
                    derived.function.span,
                    format!(
                        "matrix `{}` gives a `{}` but `{}` is a `{}`",
                        matrix.name.name,
                        result.describe(),
                        field.name.name,
                        ty.describe()
                    ),
                )
                .label("result type differs from the field type")
                .with_secondary(matrix.result.span(), "matrix result declared here")
                .help(format!(
                    "declare `{}` as `{}` or use another matrix",
                    field.name.name,
                    result.describe()
                )),
            );
        }
    }
}

/// A matrix must give exactly one output for every combination of inputs.
pub fn check_matrix(matrix: &ast::Matrix, diags: &mut Vec<Diagnostic>) {
    let enumerated = |t: &TypeExpr| -> Option<Vec<String>> {
        let ft = match t {
            TypeExpr::Named(n) => FieldType::builtin(&n.name)?,
            TypeExpr::Enum(v, _) => FieldType::Enum(v.iter().map(|i| i.name.clone()).collect()),
            _ => return None,
        };
        ft.values()
            .map(|v| v.iter().map(|s| s.to_string()).collect())
    };
    let mut domains = Vec::new();
    for (name, ty) in &matrix.params {
        match enumerated(ty) {
            Some(values) => domains.push(values),
            None => {
                diags.push(
                    Diagnostic::new(
                        "E0408",
                        ty.span(),
                        format!("matrix input `{}` is not an enumerated type", name.name),
                    )
                    .label("a matrix needs a finite set of values here")
                    .help("use `level`, `priority` or `enum(a, b, c)`"),
                );
                return;
            }
        }
    }
    let Some(outputs) = enumerated(&matrix.result) else {
        diags.push(
            Diagnostic::new(
                "E0408",
                matrix.result.span(),
                format!(
                    "matrix `{}` does not give an enumerated type",
                    matrix.name.name
                ),
            )
            .label("a matrix gives one of a finite set of values")
            .help("use `level`, `priority` or `enum(a, b, c)`"),
        );
        return;
    };
    let mut seen: HashMap<Vec<&str>, &ast::MatrixRow> = HashMap::new();
    for row in &matrix.rows {
        if row.inputs.len() != domains.len() {
            diags.push(
                Diagnostic::new(
                    "E0408",
                    row.span,
                    format!(
                        "row has {} inputs but matrix `{}` takes {}",
                        row.inputs.len(),
                        matrix.name.name,
                        domains.len()
                    ),
                )
                .label("wrong number of values before `->`")
                .help("write one value per input, then `->` and the result"),
            );
            continue;
        }
        let mut ok = true;
        for (value, domain) in row.inputs.iter().zip(&domains) {
            if !domain.contains(&value.name) {
                ok = false;
                diags.push(not_in_domain(value, domain));
            }
        }
        if !outputs.contains(&row.output.name) {
            ok = false;
            diags.push(not_in_domain(&row.output, &outputs));
        }
        if !ok {
            continue;
        }
        let key: Vec<&str> = row.inputs.iter().map(|v| v.name.as_str()).collect();
        if let Some(first) = seen.get(&key) {
            diags.push(
                Diagnostic::new(
                    "E0408",
                    row.span,
                    format!(
                        "matrix `{}` gives `{}` twice",
                        matrix.name.name,
                        key.join(", ")
                    ),
                )
                .label("duplicate row")
                .with_secondary(first.span, "first given here")
                .help("keep one row for each combination"),
            );
        } else {
            seen.insert(key, row);
        }
    }
    // Every combination must have a row.
    let mut missing = Vec::new();
    let mut combo = vec![0usize; domains.len()];
    'outer: loop {
        let key: Vec<&str> = combo
            .iter()
            .zip(&domains)
            .map(|(i, d)| d[*i].as_str())
            .collect();
        if !seen.contains_key(&key) {
            missing.push(key.join(", "));
        }
        for pos in (0..combo.len()).rev() {
            combo[pos] += 1;
            if combo[pos] < domains[pos].len() {
                continue 'outer;
            }
            combo[pos] = 0;
        }
        break;
    }
    if !missing.is_empty() && domains.iter().all(|d| !d.is_empty()) {
        let shown: Vec<String> = missing.iter().take(6).map(|m| format!("`{m}`")).collect();
        let more = if missing.len() > 6 {
            format!(" and {} more", missing.len() - 6)
        } else {
            String::new()
        };
        diags.push(
            Diagnostic::new(
                "E0408",
                matrix.name.span,
                format!("matrix `{}` is not exhaustive", matrix.name.name),
            )
            .label(match missing.len() {
                1 => "1 combination has no row".to_string(),
                n => format!("{n} combinations have no row"),
            })
            .help(format!("add rows for {}{more}", shown.join(", "))),
        );
    }
}

fn not_in_domain(value: &crate::syntax::span::Ident, domain: &[String]) -> Diagnostic {
    let mut d = Diagnostic::new(
        "E0408",
        value.span,
        format!("`{}` is not a value of this type", value.name),
    )
    .label("unknown value");
    d = match suggest(&value.name, domain.iter().map(String::as_str)) {
        Some(s) => d.help(format!("did you mean `{s}`?")),
        None => d.help(format!("the values are {}", domain.join(", "))),
    };
    d
}

/// `business` durations need a calendar; months and years have no fixed length.
pub fn check_business_duration(ctx: &ProcessCtx, d: &ast::Duration, diags: &mut Vec<Diagnostic>) {
    if !d.business {
        return;
    }
    if matches!(d.unit, DurationUnit::Months | DurationUnit::Years) {
        diags.push(
            Diagnostic::new(
                "E0508",
                d.span,
                "business time cannot be counted in months or years",
            )
            .label("months and years have no fixed number of working hours")
            .help("count business time in minutes, hours, days or weeks"),
        );
    }
    if ctx.proc.calendar.is_none() {
        diags.push(
            Diagnostic::new(
                "E0511",
                d.span,
                format!(
                    "business time in process `{}`, which has no calendar",
                    ctx.proc.name.name
                ),
            )
            .label("business time depends on working hours")
            .help("add `calendar business_hours` (and `use stdlib.calendars.{business_hours}`) to the process"),
        );
    }
}

/// Which record fields are surely set whenever an instance is in a state.
///
/// A must-analysis over the state graph, iterated to its greatest fixed
/// point: a field is set in `s` if it is set on every edge into `s`. An edge
/// sets what its source had, plus its `requires` fields when an actor fires
/// it (a timer supplies nothing). Fields `required` from the start or with a
/// default are set everywhere; fields `required at s` are set in `s` (the
/// runtime refuses entry otherwise); derived fields are set once their
/// inputs are.
pub struct SetFields<'a> {
    pub fields: Vec<&'a ast::Field>,
    pub index: HashMap<&'a str, usize>,
    pub required_at: Vec<Vec<bool>>,
    /// Per state; `None` for states no path reaches.
    pub states: Vec<Option<Vec<bool>>>,
}

impl<'a> SetFields<'a> {
    pub fn analyse(ctx: &ProcessCtx<'a>) -> Option<SetFields<'a>> {
        let record = ctx.record?;
        let proc = ctx.proc;
        let n = proc.states.len();
        let initial = (0..n).find(|&i| proc.states[i].initial.is_some())?;
        let fields: Vec<&ast::Field> = record.fields.iter().collect();
        let index: HashMap<&str, usize> = fields
            .iter()
            .enumerate()
            .map(|(i, f)| (f.name.name.as_str(), i))
            .collect();
        let mut required_at = vec![vec![false; fields.len()]; n];
        for (fi, f) in fields.iter().enumerate() {
            for s in &f.required_at {
                if let Some(&si) = ctx.states.get(s.name.as_str()) {
                    required_at[si][fi] = true;
                }
            }
        }
        let mut analysis = SetFields {
            fields,
            index,
            required_at,
            states: vec![None; n],
        };
        let mut start: Vec<bool> = analysis
            .fields
            .iter()
            .map(|f| f.required.is_some() || f.default.is_some())
            .collect();
        for (fi, r) in analysis.required_at[initial].iter().enumerate() {
            start[fi] |= r;
        }
        analysis.close(&mut start);
        analysis.states[initial] = Some(start);

        // A worklist in reverse postorder: a state is re-evaluated only when
        // one of its predecessors changed, and predecessors mostly come
        // first, so each state is evaluated a few times at most. Each state's
        // set only shrinks (at most once per field), which bounds the work
        // near O((states + edges) * fields) instead of a full pass per change.
        let mut incoming: Vec<Vec<usize>> = vec![Vec::new(); n];
        let mut succ: Vec<Vec<usize>> = vec![Vec::new(); n];
        for (ei, e) in ctx.edges.iter().enumerate() {
            incoming[e.to].push(ei);
            succ[e.from].push(e.to);
        }
        let order = reverse_postorder(&succ, initial);
        let mut rank = vec![usize::MAX; n];
        for (r, &s) in order.iter().enumerate() {
            rank[s] = r;
        }
        let mut queued = vec![false; n];
        let mut work: BinaryHeap<Reverse<usize>> = BinaryHeap::new();
        for &s in &succ[initial] {
            if !queued[s] {
                queued[s] = true;
                work.push(Reverse(rank[s]));
            }
        }
        while let Some(Reverse(r)) = work.pop() {
            let s = order[r];
            queued[s] = false;
            if s == initial {
                continue;
            }
            let mut acc: Option<Vec<bool>> = None;
            for &ei in &incoming[s] {
                if let Some(out) = analysis.after_edge(ctx, &ctx.edges[ei]) {
                    acc = Some(match acc {
                        None => out,
                        Some(mut a) => {
                            for (x, y) in a.iter_mut().zip(&out) {
                                *x &= *y;
                            }
                            a
                        }
                    });
                }
            }
            let Some(mut new) = acc else { continue };
            for (fi, r) in analysis.required_at[s].iter().enumerate() {
                new[fi] |= r;
            }
            analysis.close(&mut new);
            if analysis.states[s].as_ref() != Some(&new) {
                analysis.states[s] = Some(new);
                for &t in &succ[s] {
                    if !queued[t] {
                        queued[t] = true;
                        work.push(Reverse(rank[t]));
                    }
                }
            }
        }
        Some(analysis)
    }

    /// Derived fields are set once all their inputs are.
    fn close(&self, set: &mut [bool]) {
        loop {
            let mut changed = false;
            for (fi, f) in self.fields.iter().enumerate() {
                if let Some(d) = &f.derived {
                    if !set[fi]
                        && d.args
                            .iter()
                            .all(|a| self.index.get(a.name.as_str()).is_some_and(|&i| set[i]))
                    {
                        set[fi] = true;
                        changed = true;
                    }
                }
            }
            if !changed {
                break;
            }
        }
    }

    /// The fields set after taking edge `e` (before entering its target).
    fn after_edge(&self, ctx: &ProcessCtx, e: &super::Edge) -> Option<Vec<bool>> {
        let mut out = self.states[e.from].clone()?;
        if let EdgeKind::Actor(ti) = e.kind {
            for r in &ctx.proc.transitions[ti].requires {
                if let Some(&i) = self.index.get(r.name.as_str()) {
                    out[i] = true;
                }
            }
        }
        self.close(&mut out);
        Some(out)
    }

    /// Whether `field` is surely set in state `s` (unreached states: vacuously).
    pub fn is_set(&self, s: usize, field: &str) -> bool {
        match (&self.states[s], self.index.get(field)) {
            (Some(set), Some(&i)) => set[i],
            (None, _) => true,
            (_, None) => false,
        }
    }
}

/// The states reachable from `start` in reverse postorder of a depth-first
/// search (iterative, so deep chains cannot overflow the stack).
fn reverse_postorder(succ: &[Vec<usize>], start: usize) -> Vec<usize> {
    let mut seen = vec![false; succ.len()];
    let mut post = Vec::new();
    let mut stack = vec![(start, 0usize)];
    seen[start] = true;
    while let Some((s, next)) = stack.last_mut() {
        let s = *s;
        if let Some(&t) = succ[s].get(*next) {
            *next += 1;
            if !seen[t] {
                seen[t] = true;
                stack.push((t, 0));
            }
        } else {
            post.push(s);
            stack.pop();
        }
    }
    post.reverse();
    post
}

/// E0402: on an automatic edge (a timer or an approval decision) nobody
/// supplies fields, so the fields `required at` the target, and the fields a
/// timer transition `requires`, must already be set on every path there.
pub fn check_required_at(ctx: &ProcessCtx, set: &SetFields, diags: &mut Vec<Diagnostic>) {
    let mut reported = HashSet::new();
    let dom = Dominators::new(ctx);
    for e in &ctx.edges {
        if e.kind.is_actor() {
            continue;
        }
        let Some(out) = set.after_edge(ctx, e) else {
            continue;
        };
        let needed_by_timer: Vec<usize> = match e.kind {
            EdgeKind::Timer(ti) => ctx.proc.transitions[ti]
                .requires
                .iter()
                .filter_map(|r| set.index.get(r.name.as_str()).copied())
                .collect(),
            _ => Vec::new(),
        };
        for (fi, f) in set.fields.iter().enumerate() {
            let required_here = set.required_at[e.to][fi];
            let required_by_timer = needed_by_timer.contains(&fi);
            if !(required_here || required_by_timer) || out[fi] || !reported.insert((e.span, fi)) {
                continue;
            }
            let target = ctx.state_name(e.to);
            let how = match e.kind {
                EdgeKind::Timer(_) => "a timer",
                _ => "an approval decision",
            };
            let message = if required_here {
                format!(
                    "`{}` is required at `{target}` but may be unset when {how} moves the instance there",
                    f.name.name
                )
            } else {
                format!(
                    "`{}` is required by this transition but may be unset when its timer fires",
                    f.name.name
                )
            };
            let help = supply_help(ctx, &dom, e.from, &f.name.name);
            let mut d = Diagnostic::new("E0402", e.span, message)
                .label(format!("nobody supplies `{}` on this move", f.name.name))
                .help(help);
            d = if required_here {
                d.with_secondary(f.name.span, format!("required at `{target}` here"))
            } else {
                d.with_secondary(f.name.span, "declared here")
            };
            diags.push(d);
        }
    }
}

/// Immediate dominators of the states reachable from the initial state
/// (Cooper, Harvey and Kennedy's iterative algorithm over reverse
/// postorder), computed only when an E0402 help needs them.
struct Dominators {
    idom: Option<Vec<Option<usize>>>,
    /// States with at least one edge in, every one fired by a person.
    by_people: Vec<bool>,
}

impl Dominators {
    fn new(ctx: &ProcessCtx) -> Dominators {
        let n = ctx.proc.states.len();
        let mut into = vec![(0usize, true); n];
        for e in &ctx.edges {
            into[e.to].0 += 1;
            into[e.to].1 &= e.kind.is_actor();
        }
        let by_people = into.iter().map(|&(n, all)| n > 0 && all).collect();
        let Some(initial) = (0..n).find(|&i| ctx.proc.states[i].initial.is_some()) else {
            return Dominators {
                idom: None,
                by_people,
            };
        };
        let mut succ = vec![Vec::new(); n];
        let mut pred = vec![Vec::new(); n];
        for e in &ctx.edges {
            succ[e.from].push(e.to);
            pred[e.to].push(e.from);
        }
        let order = reverse_postorder(&succ, initial);
        let mut rank = vec![usize::MAX; n];
        for (r, &s) in order.iter().enumerate() {
            rank[s] = r;
        }
        let mut idom: Vec<Option<usize>> = vec![None; n];
        idom[initial] = Some(initial);
        let intersect = |idom: &[Option<usize>], mut a: usize, mut b: usize| -> usize {
            while a != b {
                while rank[a] > rank[b] {
                    a = idom[a].unwrap_or(initial);
                }
                while rank[b] > rank[a] {
                    b = idom[b].unwrap_or(initial);
                }
            }
            a
        };
        let mut changed = true;
        while changed {
            changed = false;
            for &s in order.iter().skip(1) {
                let mut new: Option<usize> = None;
                for &p in &pred[s] {
                    if idom[p].is_none() {
                        continue;
                    }
                    new = Some(match new {
                        None => p,
                        Some(q) => intersect(&idom, p, q),
                    });
                }
                if new.is_some() && idom[s] != new {
                    idom[s] = new;
                    changed = true;
                }
            }
        }
        Dominators {
            idom: Some(idom),
            by_people,
        }
    }

    /// `s`, then the states every path from the initial state to `s` passes
    /// through, nearest first, ending with the initial state.
    fn chain(&self, s: usize) -> Vec<usize> {
        let mut out = vec![s];
        if let Some(idom) = &self.idom {
            let mut cur = s;
            while let Some(d) = idom[cur] {
                if d == cur {
                    break;
                }
                out.push(d);
                cur = d;
            }
        }
        out
    }
}

/// The E0402 help: the nearest state on every path to `from` that only
/// people enter (so `required at` it is asked of them and cannot itself
/// trip E0402), or the start; and `default` as the other way out.
fn supply_help(ctx: &ProcessCtx, dom: &Dominators, from: usize, field: &str) -> String {
    for s in dom.chain(from) {
        if ctx.proc.states[s].initial.is_some() {
            break;
        }
        if dom.by_people[s] {
            let name = ctx.state_name(s);
            if s == from {
                return format!(
                    "add `requires {field}` to the transitions into `{name}` (or `required at {name}` to the field), or give `{field}` a `default`"
                );
            }
            return format!(
                "add `required at {name}` to `{field}` (every path to `{}` passes `{name}`, which only people enter), or give `{field}` a `default`",
                ctx.state_name(from)
            );
        }
    }
    format!(
        "mark `{field}` `required` so it is supplied when the instance starts, or give it a `default`"
    )
}

/// E0402 for scheduled processes: a schedule starts instances without an
/// actor, so no field can be needed from the start unless it has a default
/// or is derived.
pub fn check_scheduled_start(ctx: &ProcessCtx, diags: &mut Vec<Diagnostic>) {
    let (Some(every), Some(record)) = (&ctx.proc.schedule, ctx.record) else {
        return;
    };
    let initial: Vec<&str> = ctx
        .proc
        .states
        .iter()
        .filter(|s| s.initial.is_some())
        .map(|s| s.name.name.as_str())
        .collect();
    for f in &record.fields {
        let needed = f.default.is_none()
            && f.derived.is_none()
            && (f.required.is_some()
                || f.required_at
                    .iter()
                    .any(|s| initial.contains(&s.name.as_str())));
        if needed {
            diags.push(
                Diagnostic::new(
                    "E0402",
                    every.span,
                    format!(
                        "`{}` is required from the start, but the schedule starts instances without anyone supplying it",
                        f.name.name
                    ),
                )
                .label("instances started by the schedule have no actor")
                .with_secondary(f.name.span, "required here")
                .help(format!(
                    "give `{}` a default, or make it `required at` a later state that a person's transition reaches",
                    f.name.name
                )),
            );
        }
    }
}

/// `spawn PROCESS on enter S [link FIELD] [when GUARD]`. The spawned
/// instance starts with the fields of the same name copied from this
/// record, so every field it needs from the start must exist here with the
/// same type and be set in the spawning state (E0410).
pub fn check_spawn(
    ctx: &ProcessCtx,
    spawn: &ast::Spawn,
    set: Option<&SetFields>,
    diags: &mut Vec<Diagnostic>,
) {
    let target = ctx
        .env
        .resolve(ctx.fi, Kind::Process, &spawn.process, diags);
    let states: Vec<usize> = spawn
        .states
        .iter()
        .filter_map(|s| ctx.state(s, diags))
        .collect();
    if let Some(tref) = target {
        check_spawned_fields(ctx, spawn, tref, &states, set, diags);
    }
    if let Some(link) = &spawn.link {
        if let Some(field) = ctx.field(link, diags) {
            let expected = FieldType::Ref(spawn.process.name.clone());
            if target.is_some() && field.ty.as_ref().is_some_and(|t| *t != expected) {
                diags.push(
                    Diagnostic::new(
                        "E0409",
                        link.span,
                        format!(
                            "link field `{}` is not a `ref {}`",
                            link.name, spawn.process.name
                        ),
                    )
                    .label("the spawned instance's id is stored here")
                    .with_secondary(field.decl.ty.span(), "declared with another type here")
                    .help(format!(
                        "declare the field as `{} ref {}`",
                        link.name, spawn.process.name
                    )),
                );
            }
        }
    }
    if let Some(g) = &spawn.guard {
        super::guards::check(ctx, g, diags);
    }
}

/// The fields a spawned instance needs when it starts: `required` ones and
/// those `required at` its initial state, unless defaulted or derived.
fn check_spawned_fields(
    ctx: &ProcessCtx,
    spawn: &ast::Spawn,
    tref: super::resolve::DeclRef,
    states: &[usize],
    set: Option<&SetFields>,
    diags: &mut Vec<Diagnostic>,
) {
    let env = ctx.env;
    let child = env.process(tref);
    let Some(rref) = env.lookup(tref.file, Kind::Record, &child.record.name) else {
        return;
    };
    let child_record = env.record(rref);
    let child_initial: Vec<&str> = child
        .states
        .iter()
        .filter(|s| s.initial.is_some())
        .map(|s| s.name.name.as_str())
        .collect();
    for f in &child_record.fields {
        let needed = f.default.is_none()
            && f.derived.is_none()
            && (f.required.is_some()
                || f.required_at
                    .iter()
                    .any(|s| child_initial.contains(&s.name.as_str())));
        if !needed {
            continue;
        }
        let child_ty = resolve_type_quiet(env, rref.file, &f.ty);
        let parent = ctx.fields.get(f.name.name.as_str());
        let problem = match parent {
            None => Some(format!(
                "`{}` has no field `{}`",
                ctx.record
                    .map(|r| r.name.name.as_str())
                    .unwrap_or("the record"),
                f.name.name
            )),
            Some(p) if p.ty.is_some() && child_ty.is_some() && p.ty != child_ty => Some(format!(
                "`{}` is a `{}` here but a `{}` in `{}`",
                f.name.name,
                p.ty.as_ref().map(FieldType::describe).unwrap_or_default(),
                child_ty
                    .as_ref()
                    .map(FieldType::describe)
                    .unwrap_or_default(),
                child_record.name.name
            )),
            Some(_) => states
                .iter()
                .find(|&&s| set.is_some_and(|set| !set.is_set(s, &f.name.name)))
                .map(|&s| {
                    format!(
                        "`{}` may be unset in `{}` when the instance is spawned",
                        f.name.name,
                        ctx.state_name(s)
                    )
                }),
        };
        if let Some(problem) = problem {
            diags.push(
                Diagnostic::new(
                    "E0410",
                    spawn.process.span,
                    format!(
                        "a spawned `{}` needs `{}`, which this process cannot pass on",
                        spawn.process.name, f.name.name
                    ),
                )
                .label(problem)
                .with_secondary(f.name.span, format!("required by `{}` here", child.name.name))
                .help(format!(
                    "spawned instances copy fields of the same name: give `{}` a `{}` field set before `{}`, or give the field a default in `{}`",
                    ctx.record.map(|r| r.name.name.as_str()).unwrap_or("the record"),
                    f.name.name,
                    spawn.states.iter().map(|s| s.name.as_str()).collect::<Vec<_>>().join("`, `"),
                    child_record.name.name
                )),
            );
        }
    }
}
