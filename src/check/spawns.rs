//! Spawn cycles (E0306): a spawned instance starts in its initial state and
//! runs that state's `spawn … on enter` clauses in the same step, so
//! processes that spawn each other on their initial states would start one
//! another without end. The runtime stops such a chain after
//! `MAX_SPAWN_DEPTH` spawns and refuses the whole step; the checker reports
//! the cycle before anything is deployed.
//!
//! The spawn graph has one edge P -> Q for every `spawn Q on enter S` of P
//! where S is P's initial state. A spawn on any other state starts a chain
//! but cannot repeat within one step (the child only enters its initial
//! state), so only initial-state spawns can close a cycle. Guards do not cut
//! edges: the child copies the spawner's fields, so a guard that held once
//! usually holds again, and a cycle that depends on data is still a trap.

use std::collections::HashMap;

use super::resolve::{DeclRef, Env, Kind, Unit};
use crate::diag::Diagnostic;
use crate::syntax::ast;

/// One initial-state spawn: the spawner, the spawned, and where it is written.
struct SpawnEdge<'a> {
    to: DeclRef,
    spawn: &'a ast::Spawn,
}

pub fn check(env: &Env, unit: &Unit, diags: &mut Vec<Diagnostic>) {
    // Nodes: every process of the unit, by its declaration.
    let mut nodes: Vec<DeclRef> = Vec::new();
    let mut index: HashMap<DeclRef, usize> = HashMap::new();
    for (fi, file) in unit.files.iter().enumerate() {
        for pi in 0..file.processes.len() {
            let r = DeclRef {
                file: fi,
                index: pi,
            };
            index.insert(r, nodes.len());
            nodes.push(r);
        }
    }
    let mut edges: Vec<Vec<SpawnEdge>> = nodes.iter().map(|_| Vec::new()).collect();
    for (n, r) in nodes.iter().enumerate() {
        let proc = env.process(*r);
        let Some(initial) = proc.states.iter().find(|s| s.initial.is_some()) else {
            continue;
        };
        for spawn in &proc.spawns {
            if !spawn.states.iter().any(|s| s.name == initial.name.name) {
                continue;
            }
            if let Some(to) = env.lookup(r.file, Kind::Process, &spawn.process.name) {
                if index.contains_key(&to) {
                    edges[n].push(SpawnEdge { to, spawn });
                }
            }
        }
    }
    // Tarjan's strongly connected components (iterative), linear in the
    // processes and spawns.
    let sccs = components(&edges, &index, nodes.len());
    for scc in sccs {
        let in_scc = |r: &DeclRef| index.get(r).is_some_and(|i| scc.contains(i));
        let cyclic = scc.len() > 1
            || edges[scc[0]]
                .iter()
                .any(|e| index.get(&e.to) == Some(&scc[0]));
        if !cyclic {
            continue;
        }
        // Walk one cycle through the component, from its first process in
        // source order.
        let mut members = scc.clone();
        members.sort_unstable();
        let start = members[0];
        let mut path: Vec<(usize, &ast::Spawn)> = Vec::new();
        let mut seen: HashMap<usize, usize> = HashMap::new();
        let mut cur = start;
        while !seen.contains_key(&cur) {
            seen.insert(cur, path.len());
            let Some(e) = edges[cur].iter().find(|e| in_scc(&e.to)) else {
                break;
            };
            path.push((cur, e.spawn));
            cur = index.get(&e.to).copied().unwrap_or(start);
        }
        let from = seen.get(&cur).copied().unwrap_or(0);
        let cycle = &path[from..];
        let Some(&(first, first_spawn)) = cycle.first() else {
            continue;
        };
        let name = |n: usize| env.process(nodes[n]).name.name.as_str();
        let mut shown: Vec<&str> = cycle.iter().map(|(n, _)| name(*n)).collect();
        shown.push(name(first));
        let message = if cycle.len() == 1 {
            format!("process `{}` spawns itself when it starts", name(first))
        } else {
            format!(
                "processes {} spawn each other when they start",
                cycle
                    .iter()
                    .map(|(n, _)| format!("`{}`", name(*n)))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        let mut d = Diagnostic::new("E0306", first_spawn.span, message).label(format!(
            "`{}` starts a `{}` on entering its initial state",
            name(first),
            first_spawn.process.name
        ));
        for (n, spawn) in &cycle[1..] {
            d = d.with_secondary(
                spawn.span,
                format!(
                    "`{}` starts a `{}` on entering its initial state",
                    name(*n),
                    spawn.process.name
                ),
            );
        }
        d = d
            .note(format!("cycle: {}", shown.join(" -> ")))
            .help(format!(
                "spawn from a later state than the initial one (e.g. after a person's transition), or remove one spawn of the cycle; otherwise every start of `{}` is refused after {} spawns",
                name(first),
                crate::runtime::spawn::MAX_SPAWN_DEPTH
            ));
        diags.push(d);
    }
}

/// Strongly connected components of the spawn graph.
fn components(
    edges: &[Vec<SpawnEdge>],
    index: &HashMap<DeclRef, usize>,
    n: usize,
) -> Vec<Vec<usize>> {
    let succ: Vec<Vec<usize>> = edges
        .iter()
        .map(|es| {
            es.iter()
                .filter_map(|e| index.get(&e.to).copied())
                .collect()
        })
        .collect();
    let mut order = vec![usize::MAX; n];
    let mut low = vec![0usize; n];
    let mut on_stack = vec![false; n];
    let mut stack = Vec::new();
    let mut out = Vec::new();
    let mut counter = 0;
    for root in 0..n {
        if order[root] != usize::MAX {
            continue;
        }
        let mut call: Vec<(usize, usize)> = vec![(root, 0)];
        order[root] = counter;
        low[root] = counter;
        counter += 1;
        stack.push(root);
        on_stack[root] = true;
        while let Some(&mut (v, ref mut next)) = call.last_mut() {
            if let Some(&w) = succ[v].get(*next) {
                *next += 1;
                if order[w] == usize::MAX {
                    order[w] = counter;
                    low[w] = counter;
                    counter += 1;
                    stack.push(w);
                    on_stack[w] = true;
                    call.push((w, 0));
                } else if on_stack[w] {
                    low[v] = low[v].min(order[w]);
                }
            } else {
                call.pop();
                if let Some(&(parent, _)) = call.last() {
                    low[parent] = low[parent].min(low[v]);
                }
                if low[v] == order[v] {
                    let mut scc = Vec::new();
                    while let Some(w) = stack.pop() {
                        on_stack[w] = false;
                        scc.push(w);
                        if w == v {
                            break;
                        }
                    }
                    out.push(scc);
                }
            }
        }
    }
    out
}
