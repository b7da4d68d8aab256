//! The lower stage: checked AST -> IR. Runs only when checking found no
//! errors, so every name here resolves.

use std::collections::BTreeSet;

use crate::check::records::resolve_type_quiet;
use crate::check::resolve::{Env, Kind, Unit};
use crate::ir;
use crate::source::SourceMap;
use crate::syntax::ast::{self, DurationUnit, LiteralKind, Quorum, Target};
use crate::syntax::span::{Ident, Span};

struct Lowerer<'a> {
    sources: &'a SourceMap,
    env: &'a Env<'a>,
}

pub fn lower<'a>(sources: &'a SourceMap, env: &'a Env<'a>, unit: &Unit<'a>) -> ir::Program {
    let l = Lowerer { sources, env };
    let mut program = ir::Program {
        ir_version: ir::IR_VERSION,
        processes: Vec::new(),
        documents: Vec::new(),
        roles: Vec::new(),
        standards: Vec::new(),
    };
    let mut role_names = BTreeSet::new();
    for (fi, file) in unit.files.iter().enumerate() {
        program
            .standards
            .extend(file.standards.iter().map(standard));
        if unit.stdlib_module[fi].is_some() {
            continue;
        }
        for p in &file.processes {
            let process = l.process(fi, p);
            role_names.extend(process.roles.iter().map(|r| (fi, r.name.clone())));
            program.processes.push(process);
        }
        for d in &file.documents {
            program.documents.push(l.document(d));
            role_names.extend(
                d.owner
                    .iter()
                    .chain(&d.approved_by)
                    .map(|r| (fi, r.name.clone())),
            );
        }
        for r in &file.roles {
            role_names.insert((fi, r.name.name.clone()));
        }
    }
    let mut seen = BTreeSet::new();
    for (fi, name) in role_names {
        if seen.insert(name.clone()) {
            if let Some(r) = env.lookup(fi, Kind::Role, &name) {
                program.roles.push(role(env.role(r)));
            }
        }
    }
    program.roles.sort_by(|a, b| a.name.cmp(&b.name));
    program
}

fn role(r: &ast::Role) -> ir::Role {
    ir::Role {
        name: r.name.name.clone(),
        title: r.title.clone(),
        members: r.members.map(|(n, _)| n),
    }
}

fn names(idents: &[Ident]) -> Vec<String> {
    idents.iter().map(|i| i.name.clone()).collect()
}

pub fn duration(d: &ast::Duration) -> ir::Duration {
    ir::Duration {
        amount: d.amount,
        unit: match d.unit {
            DurationUnit::Minutes => ir::DurationUnit::Minutes,
            DurationUnit::Hours => ir::DurationUnit::Hours,
            DurationUnit::Days => ir::DurationUnit::Days,
            DurationUnit::Weeks => ir::DurationUnit::Weeks,
            DurationUnit::Months => ir::DurationUnit::Months,
            DurationUnit::Years => ir::DurationUnit::Years,
        },
        business: d.business,
    }
}

impl<'a> Lowerer<'a> {
    fn origin(&self, span: Span) -> ir::Origin {
        let (file, line, _) = self.sources.locate(span);
        ir::Origin {
            file: file.to_string(),
            line,
        }
    }

    fn claim(&self, c: &ast::Claim) -> ir::Claim {
        ir::Claim {
            standard: c.standard.name.clone(),
            clauses: names(&c.clauses),
            origin: self.origin(c.span),
        }
    }

    fn record(&self, fi: usize, record: &ast::Record) -> ir::Record {
        let fields = record
            .fields
            .iter()
            .map(|f| {
                let ty = resolve_type_quiet(self.env, fi, &f.ty).unwrap_or(ir::FieldType::Text);
                let derived = f.derived.as_ref().and_then(|d| {
                    let m = self.env.lookup(fi, Kind::Matrix, &d.function.name)?;
                    let matrix = self.env.matrix(m);
                    Some(ir::Derivation {
                        matrix: matrix.name.name.clone(),
                        args: names(&d.args),
                        table: matrix
                            .rows
                            .iter()
                            .map(|r| (names(&r.inputs), r.output.name.clone()))
                            .collect(),
                    })
                });
                ir::Field {
                    name: f.name.name.clone(),
                    origin: self.origin(f.span),
                    default: f.default.as_ref().map(|d| default_value(d, &ty)),
                    ty,
                    required: f.required.is_some(),
                    required_at: names(&f.required_at),
                    derived,
                }
            })
            .collect();
        ir::Record {
            name: record.name.name.clone(),
            title: record.title.clone(),
            fields,
        }
    }

    fn process(&self, fi: usize, p: &'a ast::Process) -> ir::Process {
        let env = self.env;
        let record = env
            .lookup(fi, Kind::Record, &p.record.name)
            .map(|r| self.record(r.file, env.record(r)))
            .unwrap_or(ir::Record {
                name: p.record.name.clone(),
                title: None,
                fields: Vec::new(),
            });

        let mut roles: BTreeSet<&str> = BTreeSet::new();
        let mut calendars: BTreeSet<&str> = BTreeSet::new();
        let mut templates: BTreeSet<&str> = BTreeSet::new();
        let add_roles = |list: &'a [Ident], roles: &mut BTreeSet<&'a str>| {
            roles.extend(
                list.iter()
                    .map(|r| r.name.as_str())
                    .filter(|r| *r != "requester"),
            );
        };
        roles.extend(p.owner.iter().map(|o| o.name.as_str()));
        add_roles(&p.started_by, &mut roles);
        calendars.extend(p.calendar.iter().map(|c| c.name.as_str()));

        let transitions = p
            .transitions
            .iter()
            .map(|t| {
                add_roles(&t.by, &mut roles);
                ir::Transition {
                    name: t.name.name.clone(),
                    from: names(&t.from),
                    to: t.to.name.clone(),
                    by: names(&t.by),
                    requires: names(&t.requires),
                    guard: t.guard.as_ref().map(|g| g.source.clone()),
                    after: t.after.as_ref().map(duration),
                    preapproved: t.preapproved.is_some(),
                    origin: self.origin(t.span),
                }
            })
            .collect();
        let approvals = p
            .approvals
            .iter()
            .map(|a| {
                add_roles(&a.approvers, &mut roles);
                if let Some(t) = &a.timeout {
                    add_roles(&t.escalate_to, &mut roles);
                    templates.extend(t.template.iter().map(|t| t.name.as_str()));
                }
                let distinct_roles: Vec<String> = a
                    .distinct_from
                    .iter()
                    .filter(|d| d.name != "requester")
                    .map(|d| d.name.clone())
                    .collect();
                ir::Approval {
                    name: a.name.name.clone(),
                    title: a.title.clone(),
                    state: a.state.name.clone(),
                    approvers: names(&a.approvers),
                    quorum: match a.quorum.as_ref().map(|q| &q.0) {
                        Some(Quorum::Count(n)) => ir::Quorum::Count(*n),
                        Some(Quorum::Percent(p)) => ir::Quorum::Percent(*p),
                        Some(Quorum::All) => ir::Quorum::All,
                        Some(Quorum::Any) | None => ir::Quorum::Any,
                    },
                    distinct_from_requester: a.distinct_from.iter().any(|d| d.name == "requester"),
                    distinct_from_roles: distinct_roles,
                    approved: a
                        .approved
                        .as_ref()
                        .map(|s| s.name.clone())
                        .unwrap_or_default(),
                    rejected: a
                        .rejected
                        .as_ref()
                        .map(|s| s.name.clone())
                        .unwrap_or_default(),
                    timeout: a.timeout.as_ref().map(|t| duration(&t.after)),
                    timeout_escalate_to: a
                        .timeout
                        .as_ref()
                        .map(|t| names(&t.escalate_to))
                        .unwrap_or_default(),
                    timeout_template: a
                        .timeout
                        .as_ref()
                        .and_then(|t| t.template.as_ref().map(|i| i.name.clone())),
                    origin: self.origin(a.span),
                }
            })
            .collect();
        let slas = p
            .slas
            .iter()
            .map(|s| {
                calendars.extend(s.calendar.iter().map(|c| c.name.as_str()));
                for w in &s.warns {
                    add_roles(&w.notify, &mut roles);
                    templates.extend(w.template.iter().map(|t| t.name.as_str()));
                }
                if let Some(b) = &s.breach {
                    add_roles(&b.escalate_to, &mut roles);
                    templates.extend(b.template.iter().map(|t| t.name.as_str()));
                }
                ir::Sla {
                    name: s.name.name.clone(),
                    title: s.title.clone(),
                    from: names(&s.from),
                    until: names(&s.until),
                    pause: names(&s.pause),
                    calendar: s
                        .calendar
                        .as_ref()
                        .or(p.calendar.as_ref())
                        .map(|c| c.name.clone()),
                    target: match &s.target {
                        Some(Target::Fixed(d)) => ir::Target::Fixed {
                            duration: duration(d),
                        },
                        Some(Target::ByField { field, entries, .. }) => ir::Target::ByField {
                            field: field.name.clone(),
                            targets: entries
                                .iter()
                                .map(|(k, d)| (k.name.clone(), duration(d)))
                                .collect(),
                        },
                        None => ir::Target::ByField {
                            field: String::new(),
                            targets: Vec::new(),
                        },
                    },
                    warns: s
                        .warns
                        .iter()
                        .map(|w| ir::Warn {
                            percent: w.percent,
                            notify: names(&w.notify),
                            template: w.template.as_ref().map(|t| t.name.clone()),
                        })
                        .collect(),
                    breach_escalate_to: s
                        .breach
                        .as_ref()
                        .map(|b| names(&b.escalate_to))
                        .unwrap_or_default(),
                    breach_template: s
                        .breach
                        .as_ref()
                        .and_then(|b| b.template.as_ref().map(|t| t.name.clone())),
                    origin: self.origin(s.span),
                }
            })
            .collect();
        let escalations = p
            .escalations
            .iter()
            .map(|e| {
                for (rs, t) in &e.notify {
                    add_roles(rs, &mut roles);
                    templates.extend(t.iter().map(|t| t.name.as_str()));
                }
                roles.extend(e.assign.iter().map(|r| r.name.as_str()));
                ir::Escalation {
                    name: e.name.name.clone(),
                    title: e.title.clone(),
                    condition: e.condition.source.clone(),
                    notify: e
                        .notify
                        .iter()
                        .map(|(rs, t)| ir::Notify {
                            roles: names(rs),
                            template: t.as_ref().map(|t| t.name.clone()),
                        })
                        .collect(),
                    assign: e.assign.as_ref().map(|r| r.name.clone()),
                    origin: self.origin(e.span),
                }
            })
            .collect();
        let on_enter = p
            .on_enter
            .iter()
            .map(|o| {
                add_roles(&o.notify, &mut roles);
                templates.extend(o.template.iter().map(|t| t.name.as_str()));
                ir::OnEnter {
                    states: names(&o.states),
                    notify: names(&o.notify),
                    template: o.template.as_ref().map(|t| t.name.clone()),
                    origin: self.origin(o.span),
                }
            })
            .collect();
        let spawns = p
            .spawns
            .iter()
            .map(|s| ir::Spawn {
                process: s.process.name.clone(),
                states: names(&s.states),
                link: s.link.as_ref().map(|l| l.name.clone()),
                guard: s.guard.as_ref().map(|g| g.source.clone()),
                origin: self.origin(s.span),
            })
            .collect();

        let mut process = ir::Process {
            name: p.name.name.clone(),
            title: p.title.clone(),
            implements: p.implements.iter().map(|c| self.claim(c)).collect(),
            owner: p.owner.as_ref().map(|o| o.name.clone()),
            started_by: names(&p.started_by),
            record,
            states: p
                .states
                .iter()
                .map(|s| ir::State {
                    name: s.name.name.clone(),
                    title: s.title.clone(),
                    initial: s.initial.is_some(),
                    is_final: s.final_.is_some(),
                    tags: names(&s.tags),
                    origin: self.origin(s.span),
                })
                .collect(),
            transitions,
            approvals,
            slas,
            escalations,
            on_enter,
            spawns,
            schedule: p.schedule.as_ref().map(duration),
            calendar: p.calendar.as_ref().map(|c| c.name.clone()),
            roles: roles
                .iter()
                .filter_map(|r| env.lookup(fi, Kind::Role, r))
                .map(|r| role(env.role(r)))
                .collect(),
            calendars: calendars
                .iter()
                .filter_map(|c| env.lookup(fi, Kind::Calendar, c))
                .map(|c| calendar(env.calendar(c)))
                .collect(),
            templates: templates
                .iter()
                .filter_map(|t| env.lookup(fi, Kind::Template, t))
                .map(|t| template(env.template(t)))
                .collect(),
            origin: self.origin(p.span),
            hash: String::new(),
        };
        process.seal();
        process
    }

    fn document(&self, d: &ast::Document) -> ir::Document {
        ir::Document {
            name: d.name.name.clone(),
            title: d.title.clone(),
            satisfies: d.satisfies.iter().map(|c| self.claim(c)).collect(),
            attests: names(&d.attests),
            owner: d.owner.as_ref().map(|o| o.name.clone()),
            approved_by: names(&d.approved_by),
            review: d.review.as_ref().map(duration),
            origin: self.origin(d.span),
        }
    }
}

/// The IR of a calendar declaration (also used by `pdca calendar`).
pub fn calendar(c: &ast::Calendar) -> ir::Calendar {
    let mut week = vec![Vec::new(); 7];
    for h in &c.hours {
        for &(d0, d1, _) in &h.days {
            for day in d0..=d1.min(6) {
                for &(s, e, _) in &h.times {
                    week[day as usize].push((s, e));
                }
            }
        }
    }
    for day in &mut week {
        day.sort_unstable();
    }
    ir::Calendar {
        name: c.name.name.clone(),
        zone: c.zone.as_ref().map(|z| z.0.clone()).unwrap_or_default(),
        week,
        holidays: c
            .holidays
            .iter()
            .map(|h| format!("{:04}-{:02}-{:02}", h.date.0, h.date.1, h.date.2))
            .collect(),
    }
}

fn template(t: &ast::Template) -> ir::Template {
    ir::Template {
        name: t.name.name.clone(),
        subject: t
            .subject
            .as_ref()
            .map(|s| s.text.clone())
            .unwrap_or_default(),
        body: t.body.as_ref().map(|s| s.text.clone()).unwrap_or_default(),
    }
}

fn default_value(lit: &ast::Literal, ty: &ir::FieldType) -> serde_json::Value {
    use serde_json::Value;
    match (&lit.kind, ty) {
        (LiteralKind::String(s), _) => Value::String(s.clone()),
        (LiteralKind::Number(n), ir::FieldType::Int) => {
            n.parse::<i64>().map(Value::from).unwrap_or(Value::Null)
        }
        (LiteralKind::Number(n), _) => n
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number)
            .unwrap_or(Value::Null),
        (LiteralKind::Ident(b), ir::FieldType::Bool) => Value::Bool(b == "true"),
        (LiteralKind::Ident(v), _) => Value::String(v.clone()),
        (LiteralKind::Date(d), _) => Value::String(d.clone()),
        (LiteralKind::Duration(d), _) => serde_json::to_value(duration(d)).unwrap_or(Value::Null),
    }
}

fn standard(s: &ast::Standard) -> ir::Standard {
    use ast::PredicateKind as K;
    let name = |i: &Ident| i.name.clone();
    ir::Standard {
        id: s.id.name.clone(),
        title: s.title.clone(),
        clauses: s
            .clauses
            .iter()
            .map(|c| ir::Clause {
                id: c.id.name.clone(),
                title: c.title.clone(),
                obligations: c
                    .obligations
                    .iter()
                    .map(|o| ir::Obligation {
                        id: o.id.name.clone(),
                        text: o.text.clone(),
                        attested: o.attested,
                        predicates: o
                            .predicates
                            .iter()
                            .map(|p| match &p.kind {
                                K::State(t) => ir::Predicate::State { tag: name(t) },
                                K::Transition(a, b) => ir::Predicate::Transition {
                                    from_tag: name(a),
                                    to_tag: name(b),
                                },
                                K::Field { names: n, derived } => ir::Predicate::Field {
                                    names: names(n),
                                    derived: *derived,
                                },
                                K::FieldOfType(t) => ir::Predicate::FieldOfType { ty: name(t) },
                                K::Role(r) => ir::Predicate::Role { role: name(r) },
                                K::Owner => ir::Predicate::Owner,
                                K::Approval(t) => ir::Predicate::Approval {
                                    before_tag: t.as_ref().map(name),
                                },
                                K::Sla(t) => ir::Predicate::Sla {
                                    until_tag: t.as_ref().map(name),
                                },
                                K::Escalation(r) => ir::Predicate::Escalation {
                                    to: r.as_ref().map(name),
                                },
                                K::Notification(r) => ir::Predicate::Notification {
                                    to: r.as_ref().map(name),
                                },
                                K::Schedule(max) => ir::Predicate::Schedule {
                                    max: max.as_ref().map(duration),
                                },
                                K::Document(max) => ir::Predicate::Document {
                                    max_review: max.as_ref().map(duration),
                                },
                                K::Link(c) => ir::Predicate::Link { clause: name(c) },
                                K::LinkFrom(c) => ir::Predicate::LinkFrom { clause: name(c) },
                            })
                            .collect(),
                    })
                    .collect(),
            })
            .collect(),
    }
}
