//! Graph checks (E03xx, W03xx): one initial state, every state reachable,
//! a final state reachable from every state, no exits from final states,
//! and no transition that nobody can fire.

use std::collections::VecDeque;

use super::ProcessCtx;
use crate::diag::Diagnostic;

/// Breadth-first search from `starts` over `succ`; returns a visited mask.
pub fn reachable(succ: &[Vec<usize>], starts: impl IntoIterator<Item = usize>) -> Vec<bool> {
    let mut seen = vec![false; succ.len()];
    let mut queue: VecDeque<usize> = VecDeque::new();
    for s in starts {
        if !seen[s] {
            seen[s] = true;
            queue.push_back(s);
        }
    }
    while let Some(s) = queue.pop_front() {
        for &n in &succ[s] {
            if !seen[n] {
                seen[n] = true;
                queue.push_back(n);
            }
        }
    }
    seen
}

pub fn check(ctx: &ProcessCtx, diags: &mut Vec<Diagnostic>) {
    let proc = ctx.proc;
    if proc.states.is_empty() {
        diags.push(
            Diagnostic::new(
                "E0301",
                proc.name.span,
                format!("process `{}` has no states", proc.name.name),
            )
            .label("no states declared")
            .help("declare at least `state open initial` and `state closed final`"),
        );
        return;
    }
    let initials: Vec<usize> = (0..proc.states.len())
        .filter(|&i| proc.states[i].initial.is_some())
        .filter(|&i| ctx.states.get(proc.states[i].name.name.as_str()) == Some(&i))
        .collect();
    match initials.as_slice() {
        [] => diags.push(
            Diagnostic::new(
                "E0301",
                proc.name.span,
                format!("process `{}` has no initial state", proc.name.name),
            )
            .label("no state is marked `initial`")
            .help(format!(
                "mark the state where instances start: `state {} initial`",
                proc.states[0].name.name
            )),
        ),
        [_] => {}
        [first, rest @ ..] => {
            for &i in rest {
                let s = &proc.states[i];
                diags.push(
                    Diagnostic::new(
                        "E0302",
                        s.initial.unwrap_or(s.name.span),
                        format!(
                            "process `{}` has more than one initial state",
                            proc.name.name
                        ),
                    )
                    .label(format!("`{}` is also marked initial", s.name.name))
                    .with_secondary(
                        proc.states[*first]
                            .initial
                            .unwrap_or(proc.states[*first].name.span),
                        format!(
                            "`{}` is the first initial state",
                            proc.states[*first].name.name
                        ),
                    )
                    .help("an instance starts in exactly one state: keep `initial` on one of them"),
                );
            }
        }
    }
    // Only first declarations are graph nodes: edges lead to them, so a
    // duplicate marked `final` is no way out (and E0203 reports it).
    let finals: Vec<usize> = (0..proc.states.len())
        .filter(|&i| proc.states[i].final_.is_some())
        .filter(|&i| ctx.states.get(proc.states[i].name.name.as_str()) == Some(&i))
        .collect();
    if finals.is_empty() {
        let mut d = Diagnostic::new(
            "E0303",
            proc.name.span,
            format!("process `{}` has no final state", proc.name.name),
        )
        .label("no state is marked `final`")
        .help("mark the state where instances end: `state closed final`");
        if let Some(dup) = proc.states.iter().find(|s| s.final_.is_some()) {
            d = d
                .with_secondary(dup.name.span, "this duplicate declaration is ignored")
                .help(format!(
                    "remove the duplicate and mark the first declaration: `state {} final`",
                    dup.name.name
                ));
        }
        diags.push(d);
    }

    // Exits from final states.
    for e in &ctx.edges {
        if proc.states[e.from].final_.is_some() {
            let name = ctx.state_name(e.from);
            diags.push(
                Diagnostic::new(
                    "E0305",
                    e.span,
                    format!("transition leaves final state `{name}`"),
                )
                .label(format!("`{name}` is final, so nothing may leave it"))
                .with_secondary(proc.states[e.from].name.span, "declared final here")
                .help(format!(
                    "remove `final` from `{name}` or remove this transition"
                )),
            );
        }
    }

    // Transitions nobody can fire.
    for t in &proc.transitions {
        if t.by.is_empty() && t.after.is_none() {
            diags.push(
                Diagnostic::new(
                    "W0302",
                    t.name.span,
                    format!("nobody can fire transition `{}`", t.name.name),
                )
                .label("no `by` roles and no `after` timer")
                .help(
                    "add the roles that may fire it (`by service_desk`) or a timer (`after 5 business days`)",
                ),
            );
        }
    }

    let succ = ctx.successors();
    if let [initial] = initials.as_slice() {
        let seen = reachable(&succ, [*initial]);
        for (i, s) in proc.states.iter().enumerate() {
            if !seen[i] && ctx.states.get(s.name.name.as_str()) == Some(&i) {
                diags.push(
                    Diagnostic::new(
                        "W0301",
                        s.name.span,
                        format!("state `{}` can never be reached", s.name.name),
                    )
                    .label(format!(
                        "no path from `{}` leads here",
                        proc.states[*initial].name.name
                    ))
                    .help(format!(
                        "add a transition into `{}` or remove the state",
                        s.name.name
                    )),
                );
            }
        }
    }

    // Traps: states from which no final state can be reached.
    if !finals.is_empty() {
        let mut pred = vec![Vec::new(); proc.states.len()];
        for e in &ctx.edges {
            pred[e.to].push(e.from);
        }
        let can_finish = reachable(&pred, finals.iter().copied());
        for (i, s) in proc.states.iter().enumerate() {
            if !can_finish[i] && ctx.states.get(s.name.name.as_str()) == Some(&i) {
                let exits = succ[i].len();
                let mut d = Diagnostic::new(
                    "E0304",
                    s.name.span,
                    format!("instances in `{}` can never finish", s.name.name),
                )
                .label(if exits == 0 {
                    "no transition leaves this state".to_string()
                } else {
                    "every path from here avoids the final states".to_string()
                })
                .help(format!(
                    "add a transition from `{}` towards a final state ({}), or mark it `final`",
                    s.name.name,
                    finals
                        .iter()
                        .map(|f| format!("`{}`", ctx.state_name(*f)))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
                if exits > 0 {
                    d = d.note(
                        "the states reachable from here lead only to each other, never to a final state",
                    );
                }
                diags.push(d);
            }
        }
    }
}
