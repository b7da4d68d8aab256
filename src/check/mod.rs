//! The check stage: resolves names and runs every check family over the
//! parsed files. Each family lives in its own module with its own codes.

pub mod approval_gates;
pub mod approvals;
pub mod claims;
pub mod graph;
pub mod guard_types;
pub mod guards;
pub mod records;
pub mod resolve;
pub mod sla;
pub mod spawns;
pub mod tags;
pub mod templates;

use std::collections::HashMap;

use crate::diag::Diagnostic;
use crate::ir::FieldType;
use crate::syntax::ast;
use crate::syntax::span::{Ident, Span};
use resolve::{check_unique, undefined_local, Env, Kind, Unit};

/// A graph edge between two states of a process.
#[derive(Debug, Clone, Copy)]
pub struct Edge {
    pub from: usize,
    pub to: usize,
    pub kind: EdgeKind,
    /// Where the edge was written (a transition or an approval outcome).
    pub span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EdgeKind {
    /// `transitions[i]`, fired by an actor in a role.
    Actor(usize),
    /// `transitions[i]`, fired by a timer (`after`), so no one supplies fields.
    Timer(usize),
    /// The approved outcome of `approvals[i]`.
    Approved(usize),
    /// The rejected outcome of `approvals[i]`.
    Rejected(usize),
}

impl EdgeKind {
    /// Whether an actor fires this edge and can supply record fields with it.
    pub fn is_actor(self) -> bool {
        matches!(self, EdgeKind::Actor(_))
    }
}

/// A record field with its resolved type.
pub struct FieldInfo<'a> {
    pub decl: &'a ast::Field,
    pub ty: Option<FieldType>,
}

/// Everything the per-process checks share.
pub struct ProcessCtx<'a> {
    pub fi: usize,
    pub proc: &'a ast::Process,
    pub env: &'a Env<'a>,
    pub record: Option<&'a ast::Record>,
    pub fields: HashMap<&'a str, FieldInfo<'a>>,
    /// State name -> index in `proc.states` (first declaration wins).
    pub states: HashMap<&'a str, usize>,
    pub edges: Vec<Edge>,
    pub templates: &'a templates::Compiled,
}

impl<'a> ProcessCtx<'a> {
    pub fn state_name(&self, i: usize) -> &'a str {
        &self.proc.states[i].name.name
    }

    /// Resolves a state name used in this process, reporting it if undefined.
    pub fn state(&self, ident: &Ident, diags: &mut Vec<Diagnostic>) -> Option<usize> {
        if let Some(i) = self.states.get(ident.name.as_str()) {
            return Some(*i);
        }
        diags.push(undefined_local(
            "state",
            ident,
            self.states.keys().copied(),
            &format!("in process `{}`", self.proc.name.name),
        ));
        None
    }

    /// Resolves a field of the process's record, reporting it if undefined.
    pub fn field(&self, ident: &Ident, diags: &mut Vec<Diagnostic>) -> Option<&FieldInfo<'a>> {
        if let Some(f) = self.fields.get(ident.name.as_str()) {
            return Some(f);
        }
        if let Some(record) = self.record {
            diags.push(undefined_local(
                "field",
                ident,
                self.fields.keys().copied(),
                &format!("in record `{}`", record.name.name),
            ));
        }
        None
    }

    /// Resolves a list of roles; `requester` is accepted where `allow_requester`.
    pub fn roles(&self, idents: &[Ident], allow_requester: bool, diags: &mut Vec<Diagnostic>) {
        for r in idents {
            if allow_requester && r.name == "requester" {
                continue;
            }
            self.env.resolve(self.fi, Kind::Role, r, diags);
        }
    }

    /// Outgoing adjacency lists.
    pub fn successors(&self) -> Vec<Vec<usize>> {
        let mut succ = vec![Vec::new(); self.proc.states.len()];
        for e in &self.edges {
            succ[e.from].push(e.to);
        }
        succ
    }
}

/// Runs every check over a compilation unit.
pub fn check<'a>(unit: &Unit<'a>, diags: &mut Vec<Diagnostic>) -> Env<'a> {
    let env = Env::build(unit, diags);
    let catalogs = claims::Catalogs::new(unit.files);
    let exclusions = tags::Exclusions::new(unit.files);
    let mut compiled = templates::Compiled::default();
    for (fi, file) in unit.files.iter().enumerate() {
        templates::compile_all(fi, &file.templates, &mut compiled, diags);
    }
    for (fi, file) in unit.files.iter().enumerate() {
        tags::Exclusions::check_decls(&env, fi, file, diags);
        for cal in &file.calendars {
            sla::check_calendar(cal, diags);
        }
        for matrix in &file.matrices {
            records::check_matrix(matrix, diags);
        }
        for record in &file.records {
            records::check_record(&env, fi, record, diags);
        }
        for process in &file.processes {
            let vocabulary = (catalogs.gated_tags(), &exclusions);
            check_process(&env, &compiled, fi, process, vocabulary, diags);
            for claim in &process.implements {
                catalogs.check_claim(claim, diags);
            }
        }
        for document in &file.documents {
            check_document(&env, fi, document, diags);
            for claim in &document.satisfies {
                catalogs.check_claim(claim, diags);
            }
            catalogs.check_attests(document, diags);
        }
    }
    spawns::check(&env, unit, diags);
    env
}

fn check_document(env: &Env, fi: usize, doc: &ast::Document, diags: &mut Vec<Diagnostic>) {
    if let Some(owner) = &doc.owner {
        env.resolve(fi, Kind::Role, owner, diags);
    }
    for r in &doc.approved_by {
        env.resolve(fi, Kind::Role, r, diags);
    }
}

fn check_process(
    env: &Env,
    compiled: &templates::Compiled,
    fi: usize,
    proc: &ast::Process,
    // Tags an approval must gate (E0604) and tags that contradict (E0206).
    (gated_tags, exclusions): (&std::collections::HashSet<&str>, &tags::Exclusions),
    diags: &mut Vec<Diagnostic>,
) {
    let record = env
        .resolve(fi, Kind::Record, &proc.record, diags)
        .map(|r| env.record(r));
    let mut fields = HashMap::new();
    if let Some(record) = record {
        for f in &record.fields {
            let ty = records::resolve_type_quiet(env, fi, &f.ty);
            fields
                .entry(f.name.name.as_str())
                .or_insert(FieldInfo { decl: f, ty });
        }
    }
    let states = check_unique("state", proc.states.iter().map(|s| &s.name), diags);
    check_unique(
        "transition",
        proc.transitions.iter().map(|t| &t.name),
        diags,
    );
    check_unique("approval", proc.approvals.iter().map(|a| &a.name), diags);
    check_unique("sla", proc.slas.iter().map(|s| &s.name), diags);
    check_unique(
        "escalation",
        proc.escalations.iter().map(|e| &e.name),
        diags,
    );

    let mut ctx = ProcessCtx {
        fi,
        proc,
        env,
        record,
        fields,
        states,
        edges: Vec::new(),
        templates: compiled,
    };

    if let Some(owner) = &proc.owner {
        env.resolve(fi, Kind::Role, owner, diags);
    }
    ctx.roles(&proc.started_by, false, diags);
    if let Some(cal) = &proc.calendar {
        env.resolve(fi, Kind::Calendar, cal, diags);
    }
    if let Some(every) = &proc.schedule {
        if every.business || every.amount == 0 {
            diags.push(
                Diagnostic::new(
                    "E0508",
                    every.span,
                    "a schedule needs a plain, non-zero interval",
                )
                .label("planned intervals are counted on the calendar, not in business time")
                .help("write e.g. `schedule every 6 months` or `schedule every 2 weeks`"),
            );
        }
    }
    for state in &proc.states {
        for tag in &state.tags {
            env.resolve(fi, Kind::Tag, tag, diags);
        }
        exclusions.check_state(state, diags);
    }
    // `required at S` must name states of every process using the record.
    if let Some(record) = record {
        for f in &record.fields {
            for s in &f.required_at {
                if !ctx.states.contains_key(s.name.as_str()) {
                    diags.push(
                        undefined_local(
                            "state",
                            s,
                            ctx.states.keys().copied(),
                            &format!("in process `{}`", proc.name.name),
                        )
                        .with_secondary(proc.record.span, "the record is used by this process"),
                    );
                }
            }
        }
    }

    // Edges: transitions, then approval outcomes.
    let mut edges = Vec::new();
    for (ti, t) in proc.transitions.iter().enumerate() {
        let to = ctx.state(&t.to, diags);
        // A transition with `by` and `after` is two edges: an actor may fire
        // it, or the timer. One with neither is no edge at all (W0302).
        let mut kinds = Vec::new();
        if !t.by.is_empty() {
            kinds.push(EdgeKind::Actor(ti));
        }
        if t.after.is_some() {
            kinds.push(EdgeKind::Timer(ti));
        }
        for from in &t.from {
            if let (Some(f), Some(to)) = (ctx.state(from, diags), to) {
                for &kind in &kinds {
                    edges.push(Edge {
                        from: f,
                        to,
                        kind,
                        span: t.span,
                    });
                }
            }
        }
        ctx.roles(&t.by, false, diags);
        for r in &t.requires {
            ctx.field(r, diags);
        }
        if let Some(after) = &t.after {
            records::check_business_duration(&ctx, after, diags);
        }
        if let Some(g) = &t.guard {
            guards::check(&ctx, g, diags);
        }
    }
    for (ai, a) in proc.approvals.iter().enumerate() {
        let on = ctx.state(&a.state, diags);
        for (target, kind) in [
            (&a.approved, EdgeKind::Approved(ai)),
            (&a.rejected, EdgeKind::Rejected(ai)),
        ] {
            if let (Some(on), Some(target)) = (on, target) {
                if let Some(to) = ctx.state(target, diags) {
                    edges.push(Edge {
                        from: on,
                        to,
                        kind,
                        span: target.span,
                    });
                }
            }
        }
    }
    ctx.edges = edges;

    graph::check(&ctx, diags);
    let set = records::SetFields::analyse(&ctx);
    if let Some(set) = &set {
        records::check_required_at(&ctx, set, diags);
    }
    records::check_scheduled_start(&ctx, diags);
    approvals::check(&ctx, diags);
    approval_gates::check(&ctx, gated_tags, diags);
    for s in &proc.slas {
        sla::check(&ctx, s, set.as_ref(), diags);
    }
    for e in &proc.escalations {
        guards::check(&ctx, &e.condition, diags);
        for (roles, template) in &e.notify {
            ctx.roles(roles, true, diags);
            if let Some(t) = template {
                templates::check_use(&ctx, t, templates::Context::Escalation, diags);
            }
        }
        if let Some(role) = &e.assign {
            env.resolve(fi, Kind::Role, role, diags);
        }
    }
    for on in &proc.on_enter {
        for s in &on.states {
            ctx.state(s, diags);
        }
        ctx.roles(&on.notify, true, diags);
        if let Some(t) = &on.template {
            templates::check_use(&ctx, t, templates::Context::Notification, diags);
        }
    }
    for spawn in &proc.spawns {
        records::check_spawn(&ctx, spawn, set.as_ref(), diags);
    }
}
