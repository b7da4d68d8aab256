//! Generates one process with many states, for the graph-check scaling
//! series: a `chain` (each state leads to the next) or a `star` (a hub leads
//! to every leaf, every leaf to the final state). Both carry what the graph
//! checks look at: a field `required at` the last state supplied by every
//! edge into it, a timer, an approval and an SLA spanning the whole graph.

use std::fmt::Write;

#[derive(Debug, Clone, Copy)]
pub enum Shape {
    Chain,
    Star,
}

impl Shape {
    pub fn name(self) -> &'static str {
        match self {
            Shape::Chain => "chain",
            Shape::Star => "star",
        }
    }
}

/// The text of one process with `n` states (n >= 4) of the given shape.
pub fn one_process(n: usize, shape: Shape) -> String {
    let mut s = String::with_capacity(n * 80);
    s.push_str("use stdlib.roles.{service_desk, resolver, change_manager}\n\n");
    s.push_str("record Big {\n  summary text required\n  note text\n  outcome text required at done\n}\n\n");
    s.push_str("process big \"Big\" for Big {\n  owner service_desk\n  started by service_desk\n");
    s.push_str("  state start initial\n  state review\n  state done final\n");
    for i in 0..n - 3 {
        let _ = writeln!(s, "  state s{i}");
    }
    // start -> review (approval) -> s0 / done; then the shape; the last
    // step into `done` supplies `outcome`.
    s.push_str("  transition submit start -> review by service_desk\n");
    s.push_str("  approval ok on review {\n    approvers change_manager\n    quorum any\n    distinct from requester\n    approved -> s0\n    rejected -> review_failed\n  }\n");
    s.push_str("  state review_failed final\n");
    let last = n - 4;
    match shape {
        Shape::Chain => {
            for i in 0..last {
                let _ = writeln!(s, "  transition t{i} s{i} -> s{} by resolver", i + 1);
            }
            let _ = writeln!(
                s,
                "  transition finish s{last} -> done by resolver requires outcome"
            );
        }
        Shape::Star => {
            for i in 1..=last {
                let _ = writeln!(s, "  transition t{i} s0 -> s{i} by resolver");
                let _ = writeln!(
                    s,
                    "  transition f{i} s{i} -> done by resolver requires outcome"
                );
            }
            s.push_str("  transition finish s0 -> done by resolver requires outcome\n");
        }
    }
    s.push_str("  transition nudge s0 -> s0 after 2d\n");
    s.push_str("  sla handle \"Time to handle\" {\n    from start until done, review_failed\n    pause in review\n    target 30d\n  }\n}\n");
    s
}
