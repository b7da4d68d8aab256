//! What an instance of a process can actually do: the states reachable from
//! the initial state over the edges the compiler models (actor transitions,
//! timers, approval outcomes). Coverage only takes evidence from this part.

use std::collections::HashMap;

use crate::check::approval_gates::{self, Gate, GateEdge};
use crate::ir::Process;

/// The state graph of one process, computed once per coverage run.
pub struct Reach<'a> {
    index: HashMap<&'a str, usize>,
    names: Vec<&'a str>,
    initial: Option<usize>,
    edges: Vec<GateEdge>,
    reachable: Vec<bool>,
}

impl<'a> Reach<'a> {
    pub fn new(p: &'a Process) -> Self {
        let names: Vec<&str> = p.states.iter().map(|s| s.name.as_str()).collect();
        let mut index = HashMap::new();
        for (i, n) in names.iter().enumerate() {
            index.entry(*n).or_insert(i);
        }
        let mut edges = Vec::new();
        for t in p.transitions.iter().filter(|t| fires(t)) {
            let Some(&to) = index.get(t.to.as_str()) else {
                continue;
            };
            for f in &t.from {
                if let Some(&from) = index.get(f.as_str()) {
                    edges.push(GateEdge {
                        from,
                        to,
                        gate: if t.preapproved {
                            Gate::Preapproved
                        } else {
                            Gate::Plain
                        },
                    });
                }
            }
        }
        for a in &p.approvals {
            let Some(&from) = index.get(a.state.as_str()) else {
                continue;
            };
            for (target, gate) in [(&a.approved, Gate::Approved), (&a.rejected, Gate::Plain)] {
                if let Some(&to) = index.get(target.as_str()) {
                    edges.push(GateEdge { from, to, gate });
                }
            }
        }
        let initial = p.states.iter().position(|s| s.initial);
        let mut reachable = vec![false; names.len()];
        if let Some(i) = initial {
            let mut stack = vec![i];
            reachable[i] = true;
            while let Some(s) = stack.pop() {
                for e in edges.iter().filter(|e| e.from == s) {
                    if !reachable[e.to] {
                        reachable[e.to] = true;
                        stack.push(e.to);
                    }
                }
            }
        }
        Reach {
            index,
            names,
            initial,
            edges,
            reachable,
        }
    }

    /// Whether an instance can be in state `name`.
    pub fn state(&self, name: &str) -> bool {
        self.index
            .get(name)
            .is_some_and(|&i| self.reachable.get(i).copied().unwrap_or(false))
    }

    /// The states no instance can reach (W0301), in declaration order.
    pub fn unreachable(&self) -> Vec<&'a str> {
        self.names
            .iter()
            .zip(&self.reachable)
            .filter(|(_, r)| !**r)
            .map(|(n, _)| *n)
            .collect()
    }

    /// Whether the protected states (by index) are gated by approvals;
    /// on a bypass, the path as state names.
    pub fn bypass(&self, protected: impl Fn(&str) -> bool) -> Option<String> {
        let initial = self.initial?;
        let mask: Vec<bool> = self.names.iter().map(|n| protected(n)).collect();
        let gating = approval_gates::analyse(self.names.len(), initial, &self.edges, &mask);
        let b = gating.bypass?;
        let path = approval_gates::describe_path(&self.edges, &b.edges, |s| {
            format!("`{}`", self.names.get(s).copied().unwrap_or("?"))
        });
        Some(if b.reentry {
            format!("re-entered without a fresh approval: {path}")
        } else {
            format!("reached without an approved decision: {path}")
        })
    }
}

/// Whether anyone or anything can fire a transition: one with neither `by`
/// nor `after` is no edge at all (W0302), and neither is one guarded by the
/// constant `false`. Other guards are not evaluated: a guarded path counts.
pub fn fires(t: &crate::ir::Transition) -> bool {
    (!t.by.is_empty() || t.after.is_some()) && !t.guard.as_deref().is_some_and(never)
}

/// Whether a guard or condition is the constant `false`.
pub fn never(condition: &str) -> bool {
    let g = condition.trim();
    g == "false" || g == "(false)" || g == "!true"
}
