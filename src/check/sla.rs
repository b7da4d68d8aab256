//! SLA and calendar checks (E05xx): a clock that starts must stop on every
//! path, pauses lie inside the clock's span, targets cover every priority,
//! warn thresholds climb below 100%, and calendars have real working hours.

use std::collections::{HashMap, VecDeque};

use super::records::SetFields;
use super::resolve::{check_unique, Kind};
use super::templates::{self, Context};
use super::ProcessCtx;
use crate::diag::Diagnostic;
use crate::syntax::ast::{self, DurationUnit, Target};

const WEEKDAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

pub fn check(
    ctx: &ProcessCtx,
    sla: &ast::Sla,
    set: Option<&SetFields>,
    diags: &mut Vec<Diagnostic>,
) {
    let proc = ctx.proc;
    if sla.span_decl.is_none() {
        diags.push(
            Diagnostic::new(
                "E0507",
                sla.name.span,
                format!("sla `{}` does not say when its clock runs", sla.name.name),
            )
            .label("no `from … until …`")
            .help("add `from logged until resolved` with the states that start and stop the clock"),
        );
    }
    if sla.target.is_none() {
        diags.push(
            Diagnostic::new(
                "E0507",
                sla.name.span,
                format!("sla `{}` has no target", sla.name.name),
            )
            .label("no `target`")
            .help("add `target 8h`, or targets per priority: `target by priority { P1 4h, P2 8h, P3 3d, P4 5d }`"),
        );
    }
    if let Some(cal) = &sla.calendar {
        ctx.env.resolve(ctx.fi, Kind::Calendar, cal, diags);
    }
    let from: Vec<usize> = sla
        .from
        .iter()
        .filter_map(|s| ctx.state(s, diags))
        .collect();
    let until: Vec<usize> = sla
        .until
        .iter()
        .filter_map(|s| ctx.state(s, diags))
        .collect();
    let pause: Vec<(usize, &crate::syntax::span::Ident)> = sla
        .pause
        .iter()
        .filter_map(|s| ctx.state(s, diags).map(|i| (i, s)))
        .collect();

    if !from.is_empty()
        && !until.is_empty()
        && from.len() == sla.from.len()
        && until.len() == sla.until.len()
    {
        check_clock_stops(ctx, sla, &from, &until, diags);
        // The clock's span: states reachable from a start without passing a stop.
        let is_until: Vec<bool> = (0..proc.states.len()).map(|i| until.contains(&i)).collect();
        let span_states = reach_avoiding(ctx, &from, &is_until).0;
        for (p, ident) in pause {
            if !span_states[p] || is_until[p] {
                diags.push(
                    Diagnostic::new(
                        "E0503",
                        ident.span,
                        format!(
                            "pause state `{}` is outside the clock of sla `{}`",
                            ident.name, sla.name.name
                        ),
                    )
                    .label("the clock never runs in this state")
                    .help(format!(
                        "pause only in states between {} and {}, or remove `{}` from `pause in`",
                        names(ctx, &from),
                        names(ctx, &until),
                        ident.name
                    )),
                );
            }
        }
    }

    if let Some(target) = &sla.target {
        check_target(ctx, sla, target, diags);
        // Targets by field need that field when the clock starts.
        if let (Target::ByField { field, .. }, Some(set)) = (target, set) {
            if ctx.fields.contains_key(field.name.as_str()) {
                for (&s, ident) in from.iter().zip(&sla.from) {
                    if !set.is_set(s, &field.name) {
                        diags.push(
                            Diagnostic::new(
                                "E0512",
                                field.span,
                                format!(
                                    "the clock of sla `{}` may start in `{}` before `{}` is set",
                                    sla.name.name, ident.name, field.name
                                ),
                            )
                            .label("the target depends on this field")
                            .with_secondary(ident.span, "the clock starts here")
                            .help(match ctx.fields.get(field.name.as_str()).and_then(|f| f.decl.derived.as_ref()) {
                                Some(d) => format!(
                                    "`{}` is derived from {}: make those `required` (or `required at {}`), or start the clock later",
                                    field.name,
                                    d.args.iter().map(|a| format!("`{}`", a.name)).collect::<Vec<_>>().join(" and "),
                                    ident.name
                                ),
                                None => format!(
                                    "make `{0}` `required` (or `required at {1}`), or start the clock in a later state where `{0}` is set",
                                    field.name, ident.name
                                ),
                            }),
                        );
                    }
                }
            }
        }
    }
    let mut last: Option<&ast::Warn> = None;
    for warn in &sla.warns {
        if warn.percent <= 0.0 || warn.percent >= 100.0 {
            diags.push(
                Diagnostic::new(
                    "E0505",
                    warn.percent_span,
                    format!("warn threshold {}% is not below the breach", warn.percent),
                )
                .label("a warning must come before the breach at 100%")
                .help("use a threshold above 0% and below 100%, e.g. `warn at 75%`"),
            );
        } else if let Some(prev) = last {
            if warn.percent <= prev.percent {
                diags.push(
                    Diagnostic::new(
                        "E0506",
                        warn.percent_span,
                        format!(
                            "warn threshold {}% does not come after {}%",
                            warn.percent, prev.percent
                        ),
                    )
                    .label("thresholds must climb")
                    .with_secondary(prev.percent_span, "previous threshold")
                    .help(
                        "list warnings in increasing order, e.g. `warn at 50%` then `warn at 75%`",
                    ),
                );
            }
        }
        if warn.percent > 0.0 && warn.percent < 100.0 {
            last = Some(warn);
        }
        ctx.roles(&warn.notify, true, diags);
        if let Some(t) = &warn.template {
            templates::check_use(ctx, t, Context::Sla, diags);
        }
    }
    if let Some(breach) = &sla.breach {
        ctx.roles(&breach.escalate_to, true, diags);
        if let Some(t) = &breach.template {
            templates::check_use(ctx, t, Context::Sla, diags);
        }
    }
}

fn names(ctx: &ProcessCtx, states: &[usize]) -> String {
    states
        .iter()
        .map(|s| format!("`{}`", ctx.state_name(*s)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// BFS from `starts` that does not expand through `blocked` states; returns
/// the visited mask and a parent map for rebuilding paths.
fn reach_avoiding(
    ctx: &ProcessCtx,
    starts: &[usize],
    blocked: &[bool],
) -> (Vec<bool>, Vec<Option<usize>>) {
    let succ = ctx.successors();
    let n = ctx.proc.states.len();
    let mut seen = vec![false; n];
    let mut parent = vec![None; n];
    let mut queue = VecDeque::new();
    for &s in starts {
        if !seen[s] {
            seen[s] = true;
            queue.push_back(s);
        }
    }
    while let Some(s) = queue.pop_front() {
        if blocked[s] {
            continue;
        }
        for &t in &succ[s] {
            if !seen[t] {
                seen[t] = true;
                parent[t] = Some(s);
                queue.push_back(t);
            }
        }
    }
    (seen, parent)
}

fn check_clock_stops(
    ctx: &ProcessCtx,
    sla: &ast::Sla,
    from: &[usize],
    until: &[usize],
    diags: &mut Vec<Diagnostic>,
) {
    let proc = ctx.proc;
    let n = proc.states.len();
    let is_until: Vec<bool> = (0..n).map(|i| until.contains(&i)).collect();
    let (seen, parent) = reach_avoiding(ctx, from, &is_until);
    if !until.iter().any(|u| seen[*u]) {
        diags.push(
            Diagnostic::new(
                "E0502",
                sla.span_decl.unwrap_or(sla.name.span),
                format!("the clock of sla `{}` can never stop", sla.name.name),
            )
            .label(format!(
                "no path leads from {} to {}",
                names(ctx, from),
                names(ctx, until)
            ))
            .help("stop the clock in a state that comes after the one that starts it"),
        );
        return;
    }
    // A final state reached without passing a stop leaves the clock running forever.
    for f in (0..n).filter(|&i| proc.states[i].final_.is_some() && seen[i] && !is_until[i]) {
        let mut path = vec![f];
        let mut cur = f;
        while let Some(p) = parent[cur] {
            path.push(p);
            cur = p;
            if path.len() > n {
                break;
            }
        }
        path.reverse();
        let shown: Vec<&str> = path.iter().map(|s| ctx.state_name(*s)).collect();
        let final_name = ctx.state_name(f);
        diags.push(
            Diagnostic::new(
                "E0501",
                sla.span_decl.unwrap_or(sla.name.span),
                format!(
                    "the clock of sla `{}` may never stop: an instance can end in `{final_name}` without passing {}",
                    sla.name.name,
                    names(ctx, until)
                ),
            )
            .label("the clock starts here and this path never stops it")
            .with_secondary(proc.states[f].name.span, "the clock is still running when the instance ends here")
            .note(format!("path: {}", shown.join(" -> ")))
            .help(format!("add `{final_name}` to `until`, or route that path through a stop state")),
        );
    }
}

fn check_target(ctx: &ProcessCtx, sla: &ast::Sla, target: &Target, diags: &mut Vec<Diagnostic>) {
    let durations: Vec<&ast::Duration> = match target {
        Target::Fixed(d) => vec![d],
        Target::ByField { entries, .. } => entries.iter().map(|(_, d)| d).collect(),
    };
    for d in durations {
        if d.business && sla.calendar.is_none() && ctx.proc.calendar.is_none() {
            diags.push(
                Diagnostic::new(
                    "E0511",
                    d.span,
                    format!("business time in sla `{}`, which has no calendar", sla.name.name),
                )
                .label("business time depends on working hours")
                .help("add `calendar business_hours` to the sla or the process (with `use stdlib.calendars.{business_hours}`)"),
            );
        }
        if matches!(d.unit, DurationUnit::Months | DurationUnit::Years) {
            diags.push(
                Diagnostic::new(
                    "E0508",
                    d.span,
                    "an SLA target cannot be counted in months or years",
                )
                .label("months and years have no fixed length")
                .help("use minutes, hours, days or weeks, e.g. `30d`"),
            );
        }
        if d.amount == 0 {
            diags.push(
                Diagnostic::new("E0505", d.span, "an SLA target of zero is breached at once")
                    .label("zero target")
                    .help("give a target longer than zero"),
            );
        }
    }
    let Target::ByField {
        field,
        entries,
        span,
    } = target
    else {
        return;
    };
    let Some(info) = ctx.field(field, diags) else {
        return;
    };
    let Some(values) = info.ty.as_ref().and_then(|t| t.values()) else {
        diags.push(
            Diagnostic::new(
                "E0507",
                field.span,
                format!(
                    "targets cannot be set by `{}`, which is not an enumerated field",
                    field.name
                ),
            )
            .label("needs a field of type `priority`, `level` or `enum(…)`")
            .with_secondary(info.decl.ty.span(), "declared here")
            .help("set targets by a `priority` field: `target by priority { P1 4h, … }`"),
        );
        return;
    };
    check_unique("target", entries.iter().map(|(k, _)| k), diags);
    let mut covered: HashMap<&str, bool> = values.iter().map(|v| (*v, false)).collect();
    for (key, _) in entries {
        match covered.get_mut(key.name.as_str()) {
            Some(c) => *c = true,
            None => diags.push(
                Diagnostic::new(
                    "E0504",
                    key.span,
                    format!("`{}` is not a value of `{}`", key.name, field.name),
                )
                .label("unknown value")
                .help(format!(
                    "the values of `{}` are {}",
                    field.name,
                    values.join(", ")
                )),
            ),
        }
    }
    let missing: Vec<&str> = values
        .iter()
        .copied()
        .filter(|v| covered.get(v) == Some(&false))
        .collect();
    if !missing.is_empty() {
        diags.push(
            Diagnostic::new(
                "E0504",
                *span,
                format!(
                    "sla `{}` has no target for {}",
                    sla.name.name,
                    missing
                        .iter()
                        .map(|m| format!("`{m}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
            .label(format!("every value of `{}` needs a target", field.name))
            .help(format!(
                "add {}",
                missing
                    .iter()
                    .map(|m| format!("`{m} 5d`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        );
    }
}

/// Calendars: a known IANA zone, at least some working time, sane ranges.
pub fn check_calendar(cal: &ast::Calendar, diags: &mut Vec<Diagnostic>) {
    match &cal.zone {
        None => diags.push(
            Diagnostic::new(
                "E0509",
                cal.name.span,
                format!("calendar `{}` has no time zone", cal.name.name),
            )
            .label("working hours need a time zone")
            .help("add an IANA zone, e.g. `zone \"Europe/London\"`"),
        ),
        Some((zone, span)) => {
            if jiff::tz::TimeZone::get(zone).is_err() {
                diags.push(
                    Diagnostic::new("E0509", *span, format!("unknown time zone `{zone}`"))
                        .label("not an IANA time zone")
                        .help("use a name from the IANA database, e.g. `Europe/Berlin` or `America/New_York`"),
                );
            }
        }
    }
    if cal.hours.is_empty() {
        diags.push(
            Diagnostic::new(
                "E0510",
                cal.name.span,
                format!("calendar `{}` has no working hours", cal.name.name),
            )
            .label("business time would never pass")
            .help("add working hours, e.g. `hours mon-fri 09:00-17:00`"),
        );
    }
    let mut week: Vec<Vec<(u16, u16, crate::syntax::span::Span)>> = vec![Vec::new(); 7];
    for h in &cal.hours {
        for &(start, end, tspan) in &h.times {
            if end <= start {
                diags.push(
                    Diagnostic::new("E0510", tspan, "working hours end before they start")
                        .label("the end must come after the start")
                        .help("write the range as START-END within one day, e.g. `09:00-17:00`; split night shifts at midnight"),
                );
            }
        }
        for &(d0, d1, dspan) in &h.days {
            if d1 < d0 {
                diags.push(
                    Diagnostic::new(
                        "E0510",
                        dspan,
                        format!(
                            "day range `{}-{}` runs backwards",
                            WEEKDAYS[d0 as usize], WEEKDAYS[d1 as usize]
                        ),
                    )
                    .label("weeks run from mon to sun")
                    .help("split it, e.g. `hours fri-sun …` and `hours mon …`"),
                );
                continue;
            }
            for day in d0..=d1 {
                for &(s, e, tspan) in &h.times {
                    if e > s {
                        week[day as usize].push((s, e, tspan));
                    }
                }
            }
        }
    }
    for (day, ranges) in week.iter_mut().enumerate() {
        ranges.sort_by_key(|r| r.0);
        for pair in ranges.windows(2) {
            if pair[1].0 < pair[0].1 {
                diags.push(
                    Diagnostic::new(
                        "E0510",
                        pair[1].2,
                        format!("working hours overlap on {}", WEEKDAYS[day]),
                    )
                    .label("overlaps an earlier range")
                    .with_secondary(pair[0].2, "earlier range")
                    .help("give each day non-overlapping ranges"),
                );
            }
        }
    }
}
