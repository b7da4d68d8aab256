//! A process as a Mermaid `stateDiagram-v2`: states (with their titles),
//! transitions labelled by name and role or timer, approval outcomes.

use std::fmt::Write;

use crate::ir::{Duration, DurationUnit, Process};

/// Mermaid ids: letters, digits and `_` only (pdca names already are).
fn id(name: &str) -> String {
    name.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

/// Label text without the characters Mermaid gives a meaning to.
fn label(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            ':' | ';' | '"' | '\n' | '\r' | '#' | '{' | '}' => ' ',
            c => c,
        })
        .collect()
}

fn duration(d: &Duration) -> String {
    let unit = match d.unit {
        DurationUnit::Minutes => "min",
        DurationUnit::Hours => "h",
        DurationUnit::Days => "d",
        DurationUnit::Weeks => "w",
        DurationUnit::Months => "mo",
        DurationUnit::Years => "y",
    };
    format!(
        "{}{unit}{}",
        d.amount,
        if d.business { " business" } else { "" }
    )
}

/// The Mermaid text of a process.
pub fn mermaid(p: &Process) -> String {
    let mut s = String::from("stateDiagram-v2\n");
    // Writing to a String cannot fail.
    if let Some(title) = &p.title {
        let _ = writeln!(s, "    %% {}", label(title));
    }
    for st in &p.states {
        if let Some(title) = &st.title {
            let _ = writeln!(s, "    state \"{}\" as {}", label(title), id(&st.name));
        }
    }
    for st in p.states.iter().filter(|s| s.initial) {
        let _ = writeln!(s, "    [*] --> {}", id(&st.name));
    }
    for t in &p.transitions {
        let how = match (&t.after, t.by.is_empty()) {
            (Some(d), _) => format!("after {}", duration(d)),
            (None, false) => format!("by {}", t.by.join(", ")),
            (None, true) => "automatic".into(),
        };
        for from in &t.from {
            let _ = writeln!(
                s,
                "    {} --> {} : {} ({})",
                id(from),
                id(&t.to),
                label(&t.name),
                label(&how)
            );
        }
    }
    for a in &p.approvals {
        let _ = writeln!(
            s,
            "    {} --> {} : {} approved",
            id(&a.state),
            id(&a.approved),
            label(&a.name)
        );
        let _ = writeln!(
            s,
            "    {} --> {} : {} rejected",
            id(&a.state),
            id(&a.rejected),
            label(&a.name)
        );
    }
    for st in p.states.iter().filter(|s| s.is_final) {
        let _ = writeln!(s, "    {} --> [*]", id(&st.name));
    }
    s
}
