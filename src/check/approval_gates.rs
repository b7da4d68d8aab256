//! Approval bypass analysis (E0604, E0605).
//!
//! An approval *gates* a state only if an instance can never enter that
//! state without an approved decision. The rule, shared by `pdca check` and
//! the coverage predicate `approval before is TAG`:
//!
//! 1. **First entry.** Every path from the initial state to a protected
//!    state passes an `approved ->` outcome. A plain transition or timer
//!    leaving the approval's state, a `rejected ->` outcome, or any other
//!    route around the approval is a bypass.
//! 2. **Re-entry.** Each later entry into a protected state needs a fresh
//!    approval too (deployed -> failed -> deployed re-deploys without one),
//!    unless the path back is declared with a transition marked
//!    `preapproved`: a standard fix-forward the original approval covers,
//!    visible to reviewers in the definition.
//! 3. `preapproved` only counts after an approval: a `preapproved`
//!    transition that an instance can reach without any approved decision is
//!    an error (E0605), so the marker cannot open a path around the gate.
//!
//! The graph is the one the compiler models: actor transitions, timers and
//! approval outcomes. Guards are not evaluated (a guarded path is a path).

use std::collections::{HashSet, VecDeque};

use super::{EdgeKind, ProcessCtx};
use crate::diag::Diagnostic;

/// How an edge enters its target, as far as gating is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    /// A transition, timer or rejected outcome: no decision on the way.
    Plain,
    /// An `approved ->` outcome.
    Approved,
    /// A transition marked `preapproved`.
    Preapproved,
}

/// One edge of the state graph, by state index.
#[derive(Debug, Clone, Copy)]
pub struct GateEdge {
    pub from: usize,
    pub to: usize,
    pub gate: Gate,
}

/// How a protected state is entered without an approval: the edges of the
/// path, in order. A first-entry path starts at the initial state; a
/// re-entry path starts at a protected state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bypass {
    pub reentry: bool,
    pub edges: Vec<usize>,
}

/// The result of the analysis of one process.
#[derive(Debug, Clone, Default)]
pub struct Gating {
    /// The first bypass found (shortest first-entry path, else shortest
    /// re-entry path).
    pub bypass: Option<Bypass>,
    /// `preapproved` edges that are reachable without an approved decision.
    pub misplaced: Vec<usize>,
}

/// Breadth-first search from `starts` over the edges `follow` accepts;
/// returns the parent edge of each state reached (`usize::MAX` for starts).
fn search(
    states: usize,
    edges: &[GateEdge],
    starts: &[usize],
    follow: impl Fn(&GateEdge) -> bool,
) -> Vec<Option<usize>> {
    let mut parent = vec![None; states];
    let mut queue = VecDeque::new();
    for &s in starts {
        if s < states && parent[s].is_none() {
            parent[s] = Some(usize::MAX);
            queue.push_back(s);
        }
    }
    let mut out: Vec<Vec<usize>> = vec![Vec::new(); states];
    for (i, e) in edges.iter().enumerate() {
        if e.from < states && e.to < states {
            out[e.from].push(i);
        }
    }
    while let Some(s) = queue.pop_front() {
        for &i in &out[s] {
            let e = &edges[i];
            if follow(e) && parent[e.to].is_none() {
                parent[e.to] = Some(i);
                queue.push_back(e.to);
            }
        }
    }
    parent
}

/// The edges leading from a start to `s`, following `parent`.
fn path_to(parent: &[Option<usize>], edges: &[GateEdge], mut s: usize) -> Vec<usize> {
    let mut path = Vec::new();
    while let Some(Some(i)) = parent.get(s) {
        if *i == usize::MAX || path.len() > edges.len() {
            break;
        }
        path.push(*i);
        s = edges[*i].from;
    }
    path.reverse();
    path
}

/// Analyses whether the `protected` states are gated by approvals.
pub fn analyse(states: usize, initial: usize, edges: &[GateEdge], protected: &[bool]) -> Gating {
    let mut gating = Gating::default();
    if initial >= states {
        return gating;
    }
    let is_protected = |s: usize| protected.get(s).copied().unwrap_or(false);
    // States reachable with no approved decision yet (`preapproved` counts
    // for nothing before an approval).
    let unapproved = search(states, edges, &[initial], |e| e.gate != Gate::Approved);
    gating.misplaced = edges
        .iter()
        .enumerate()
        .filter(|(_, e)| e.gate == Gate::Preapproved && unapproved[e.from].is_some())
        .map(|(i, _)| i)
        .collect();
    // Shortest first-entry bypass (BFS order: the first protected state
    // found by increasing distance).
    let mut first: Option<Vec<usize>> = None;
    for s in (0..states).filter(|&s| is_protected(s) && unapproved[s].is_some()) {
        let path = path_to(&unapproved, edges, s);
        if first.as_ref().is_none_or(|p| path.len() < p.len()) {
            first = Some(path);
        }
    }
    if let Some(edges) = first {
        gating.bypass = Some(Bypass {
            reentry: false,
            edges,
        });
        return gating;
    }
    // Re-entry: from each protected state an instance can be in, any path of
    // plain edges back into a protected state.
    let reachable = search(states, edges, &[initial], |_| true);
    let entered: Vec<usize> = (0..states)
        .filter(|&s| is_protected(s) && reachable[s].is_some())
        .collect();
    let mut best: Option<Vec<usize>> = None;
    for &p in &entered {
        let from_p = search(states, edges, &[p], |e| e.gate == Gate::Plain);
        for (i, e) in edges.iter().enumerate() {
            if e.gate == Gate::Plain && is_protected(e.to) && from_p[e.from].is_some() {
                let mut path = path_to(&from_p, edges, e.from);
                path.push(i);
                if best.as_ref().is_none_or(|b| path.len() < b.len()) {
                    best = Some(path);
                }
            }
        }
    }
    gating.bypass = best.map(|edges| Bypass {
        reentry: true,
        edges,
    });
    gating
}

/// The states of a path, as names joined by arrows.
pub fn describe_path(edges: &[GateEdge], path: &[usize], name: impl Fn(usize) -> String) -> String {
    let mut shown = Vec::new();
    if let Some(first) = path.first().and_then(|i| edges.get(*i)) {
        shown.push(name(first.from));
    }
    for e in path.iter().filter_map(|i| edges.get(*i)) {
        shown.push(name(e.to));
    }
    shown.join(" -> ")
}

/// E0604 / E0605 for one process. `gated_tags` are the tags the catalogs
/// require an approval before (`approval before is TAG`); a state carrying
/// one is protected when an approval's approved outcome can lead to it.
pub fn check(ctx: &ProcessCtx, gated_tags: &HashSet<&str>, diags: &mut Vec<Diagnostic>) {
    let proc = ctx.proc;
    if proc.approvals.is_empty() {
        return;
    }
    let Some(initial) = proc.states.iter().position(|s| s.initial.is_some()) else {
        return;
    };
    let n = proc.states.len();
    let edges: Vec<GateEdge> = ctx
        .edges
        .iter()
        .map(|e| GateEdge {
            from: e.from,
            to: e.to,
            gate: match e.kind {
                EdgeKind::Approved(_) => Gate::Approved,
                EdgeKind::Actor(t) | EdgeKind::Timer(t)
                    if proc.transitions[t].preapproved.is_some() =>
                {
                    Gate::Preapproved
                }
                _ => Gate::Plain,
            },
        })
        .collect();
    let protected: Vec<bool> = proc
        .states
        .iter()
        .map(|s| s.tags.iter().any(|t| gated_tags.contains(t.name.as_str())))
        .collect();
    // The approval meant to gate: the first whose approved outcome leads
    // (over any edges) to a protected state.
    let gate = ctx.edges.iter().find_map(|e| match e.kind {
        EdgeKind::Approved(a) => {
            let from_outcome = search(n, &edges, &[e.to], |_| true);
            (0..n)
                .any(|s| protected[s] && from_outcome[s].is_some())
                .then_some(a)
        }
        _ => None,
    });
    let gating = analyse(n, initial, &edges, &protected);
    for &i in &gating.misplaced {
        let e = &ctx.edges[i];
        let (EdgeKind::Actor(t) | EdgeKind::Timer(t)) = e.kind else {
            continue;
        };
        let tr = &proc.transitions[t];
        let unapproved = search(n, &edges, &[initial], |x| x.gate != Gate::Approved);
        let path = describe_path(&edges, &path_to(&unapproved, &edges, e.from), |s| {
            ctx.state_name(s).to_string()
        });
        let mut d = Diagnostic::new(
            "E0605",
            tr.preapproved.unwrap_or(tr.name.span),
            format!(
                "transition `{}` is marked `preapproved` but an instance reaches `{}` without any approval",
                tr.name.name,
                ctx.state_name(e.from)
            ),
        )
        .label("nothing has been approved yet when this transition can fire");
        if !path.is_empty() {
            d = d.note(format!("path: {path}"));
        }
        diags.push(d.help(
            "remove `preapproved`: the marker only declares a way back after an approved decision",
        ));
    }
    let (Some(a), Some(bypass)) = (gate, gating.bypass) else {
        return;
    };
    let approval = &proc.approvals[a];
    let Some(&last) = bypass.edges.last() else {
        // The initial state itself is protected: every instance starts there.
        let state = &proc.states[initial];
        diags.push(
            Diagnostic::new(
                "E0604",
                approval.name.span,
                format!(
                    "approval `{}` can be bypassed: every instance starts in `{}`",
                    approval.name.name, state.name.name
                ),
            )
            .label(format!("this approval is meant to gate `{}`", state.name.name))
            .with_secondary(state.name.span, "the initial state needs no decision to be entered")
            .help("start in a state that is not deployed, published or agreed, and lead it through the approval"),
        );
        return;
    };
    let entry = &ctx.edges[last];
    let target = ctx.state_name(entry.to);
    let path = describe_path(&edges, &bypass.edges, |s| ctx.state_name(s).to_string());
    let (how, help) = match entry.kind {
        EdgeKind::Rejected(r) => (
            format!("the rejected outcome of `{}` enters `{target}`", proc.approvals[r].name.name),
            format!("let `rejected ->` lead to a state that is not `{target}` (e.g. back to rework)"),
        ),
        _ if bypass.reentry => (
            format!("`{target}` is entered again without a fresh approval"),
            format!(
                "route the way back through `{}`, or mark the transition into `{target}` `preapproved` if the approval already covers it",
                approval.state.name
            ),
        ),
        _ => (
            format!("`{target}` is reached without an approved decision"),
            format!("lead the path through `{}` and its `approved ->` outcome", approval.state.name),
        ),
    };
    diags.push(
        Diagnostic::new(
            "E0604",
            approval.name.span,
            format!("approval `{}` can be bypassed: {how}", approval.name.name),
        )
        .label(format!("this approval is meant to gate `{target}`"))
        .with_secondary(entry.span, "this way in passes no approved decision")
        .note(format!("path: {path}"))
        .help(help),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(from: usize, to: usize, gate: Gate) -> GateEdge {
        GateEdge { from, to, gate }
    }

    // 0 requested -> 1 review (approval) -approved-> 2 deployed -> 3 failed
    #[test]
    fn gated_when_every_path_passes_the_approved_outcome() {
        let edges = [
            e(0, 1, Gate::Plain),
            e(1, 2, Gate::Approved),
            e(1, 0, Gate::Plain),
            e(2, 3, Gate::Plain),
        ];
        let g = analyse(4, 0, &edges, &[false, false, true, false]);
        assert_eq!(g.bypass, None);
    }

    #[test]
    fn a_plain_way_out_of_the_approval_state_bypasses() {
        let edges = [
            e(0, 1, Gate::Plain),
            e(1, 2, Gate::Approved),
            e(1, 2, Gate::Plain),
        ];
        let g = analyse(3, 0, &edges, &[false, false, true]);
        assert_eq!(
            g.bypass,
            Some(Bypass {
                reentry: false,
                edges: vec![0, 2]
            })
        );
    }

    #[test]
    fn re_entry_needs_a_fresh_approval_or_a_preapproved_path() {
        let mut edges = vec![
            e(0, 1, Gate::Plain),
            e(1, 2, Gate::Approved),
            e(2, 3, Gate::Plain),
            e(3, 2, Gate::Plain),
        ];
        let protected = [false, false, true, false];
        let g = analyse(4, 0, &edges, &protected);
        assert_eq!(
            g.bypass,
            Some(Bypass {
                reentry: true,
                edges: vec![2, 3]
            })
        );
        edges[3].gate = Gate::Preapproved;
        let g = analyse(4, 0, &edges, &protected);
        assert_eq!(g.bypass, None);
        assert!(g.misplaced.is_empty());
    }

    #[test]
    fn preapproved_before_any_approval_is_misplaced_and_does_not_gate() {
        let edges = [e(0, 1, Gate::Preapproved)];
        let g = analyse(2, 0, &edges, &[false, true]);
        assert_eq!(g.misplaced, vec![0]);
        assert!(g.bypass.is_some());
    }
}
