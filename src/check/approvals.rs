//! Approval and duty checks (E06xx, W0601): a quorum that can be met, a
//! rejected path, and segregation of duties between requester and approver.

use super::resolve::Kind;
use super::templates::{self, Context};
use super::{EdgeKind, ProcessCtx};
use crate::diag::Diagnostic;
use crate::syntax::ast::{self, Quorum};

pub fn check(ctx: &ProcessCtx, diags: &mut Vec<Diagnostic>) {
    for approval in &ctx.proc.approvals {
        check_one(ctx, approval, diags);
    }
}

fn check_one(ctx: &ProcessCtx, a: &ast::Approval, diags: &mut Vec<Diagnostic>) {
    let env = ctx.env;
    if a.approvers.is_empty() {
        diags.push(
            Diagnostic::new(
                "E0603",
                a.name.span,
                format!("approval `{}` names no approvers", a.name.name),
            )
            .label("nobody can decide")
            .help("add `approvers change_manager` with the roles that decide"),
        );
    }
    if a.approved.is_none() {
        diags.push(
            Diagnostic::new(
                "E0603",
                a.name.span,
                format!(
                    "approval `{}` does not say where an approval leads",
                    a.name.name
                ),
            )
            .label("no `approved ->` state")
            .help("add `approved -> scheduled` with the state that follows approval"),
        );
    }
    if a.rejected.is_none() {
        diags.push(
            Diagnostic::new(
                "E0602",
                a.name.span,
                format!("approval `{}` has no rejected path", a.name.name),
            )
            .label("a rejection would leave the instance stuck")
            .help("add `rejected -> rejected` (or another state) for when approvers say no"),
        );
    }
    let mut approver_roles = Vec::new();
    for r in &a.approvers {
        if let Some(role) = env.resolve(ctx.fi, Kind::Role, r, diags) {
            approver_roles.push((r, env.role(role)));
        }
    }
    let mut requester_excluded = false;
    let mut excluded_roles = Vec::new();
    for d in &a.distinct_from {
        if d.name == "requester" {
            requester_excluded = true;
        } else if env.resolve(ctx.fi, Kind::Role, d, diags).is_some() {
            excluded_roles.push(d.name.as_str());
        }
    }
    if let Some(t) = &a.timeout {
        ctx.roles(&t.escalate_to, true, diags);
        super::records::check_business_duration(ctx, &t.after, diags);
        if let Some(tpl) = &t.template {
            templates::check_use(ctx, tpl, Context::Approval, diags);
        }
    }

    // Quorum.
    if let Some((quorum, qspan)) = &a.quorum {
        // Seats that can decide: members of approver roles not excluded by
        // `distinct from`; unknown when any approver role has no `members`.
        let deciding: Vec<_> = approver_roles
            .iter()
            .filter(|(r, _)| !excluded_roles.contains(&r.name.as_str()))
            .collect();
        let seats: Option<u64> =
            if approver_roles.len() == a.approvers.len() && !deciding.is_empty() {
                deciding
                    .iter()
                    .map(|(_, role)| role.members.map(|(n, _)| u64::from(n)))
                    .sum()
            } else {
                None
            };
        let problem = match quorum {
            Quorum::Count(0) => Some("a quorum of 0 approves without any decision".to_string()),
            Quorum::Percent(p) if *p <= 0.0 || *p > 100.0 => {
                Some(format!("a quorum of {p}% is not above 0% and at most 100%"))
            }
            Quorum::Count(n) => match seats {
                Some(total) if u64::from(*n) > total => Some(format!(
                    "a quorum of {n} needs more approvers than the {total} member{} who may decide",
                    if total == 1 { "" } else { "s" }
                )),
                _ => None,
            },
            Quorum::All | Quorum::Any | Quorum::Percent(_) => match seats {
                Some(0) => Some("the approver roles have no members".to_string()),
                _ => None,
            },
        };
        if let Some(problem) = problem {
            diags.push(
                Diagnostic::new("E0601", *qspan, format!("approval `{}` can never be approved", a.name.name))
                    .label(problem)
                    .help("use a quorum between 1 and the number of people who can approve, or `any`, `all`, or a percentage"),
            );
        }
    }
    if !approver_roles.is_empty()
        && approver_roles.len() == a.approvers.len()
        && approver_roles
            .iter()
            .all(|(r, _)| excluded_roles.contains(&r.name.as_str()))
    {
        diags.push(
            Diagnostic::new(
                "E0601",
                a.name.span,
                format!("approval `{}` can never be approved", a.name.name),
            )
            .label("every approver role is excluded by `distinct from`")
            .help("remove an approver role from `distinct from`, or add an approver role that is not excluded"),
        );
    }

    // Segregation of duties: who can put the instance into the approval state?
    let Some(&on) = ctx.states.get(a.state.name.as_str()) else {
        return;
    };
    if requester_excluded {
        return;
    }
    let mut requesters: Vec<(&str, crate::syntax::span::Span)> = Vec::new();
    for e in ctx.edges.iter().filter(|e| e.to == on) {
        if let EdgeKind::Actor(ti) = e.kind {
            for r in &ctx.proc.transitions[ti].by {
                requesters.push((r.name.as_str(), r.span));
            }
        }
    }
    if ctx.proc.states[on].initial.is_some() {
        for r in &ctx.proc.started_by {
            requesters.push((r.name.as_str(), r.span));
        }
    }
    for (approver, _) in &approver_roles {
        if let Some((_, rspan)) = requesters.iter().find(|(r, _)| *r == approver.name) {
            diags.push(
                Diagnostic::new(
                    "W0601",
                    approver.span,
                    format!(
                        "`{}` can both request and grant approval `{}`",
                        approver.name, a.name.name
                    ),
                )
                .label("this role may approve")
                .with_secondary(
                    *rspan,
                    format!("`{}` may also request it here", approver.name),
                )
                .help("add `distinct from requester` so nobody approves their own request"),
            );
        }
    }
}
