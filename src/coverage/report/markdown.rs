//! A summary fit for a pull-request comment: the headline figures, a table
//! of clauses that are not covered, and their unmet obligations folded away.

use std::fmt::Write;

use super::super::{ClauseStatus, ObligationStatus, Report};
use super::status_word;

pub fn render(report: &Report) -> String {
    let s = &report.summary;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "### pdca coverage: {} — {:.1}%\n",
        report.standard, s.percent
    );
    let _ = writeln!(
        out,
        "| clauses | covered | partial | missing | obligations met |\n|---:|---:|---:|---:|---:|\n| {} | {} | {} | {} | {} / {} |\n",
        s.clauses, s.covered, s.partial, s.missing, s.met, s.obligations
    );
    let open: Vec<_> = report
        .clauses
        .iter()
        .filter(|c| c.status != ClauseStatus::Covered)
        .collect();
    if open.is_empty() {
        out.push_str("Every clause with obligations is covered.\n");
        return out;
    }
    out.push_str("| clause | title | status | met |\n|---|---|---|---:|\n");
    for c in &open {
        let met = c
            .obligations
            .iter()
            .filter(|o| o.status == ObligationStatus::Met)
            .count();
        let _ = writeln!(
            out,
            "| {} | {} | {} | {}/{} |",
            c.id,
            c.title.replace('|', "\\|"),
            status_word(c.status),
            met,
            c.obligations.len()
        );
    }
    out.push_str("\n<details><summary>Unmet obligations</summary>\n\n");
    for c in &open {
        for o in c
            .obligations
            .iter()
            .filter(|o| o.status == ObligationStatus::Unmet)
        {
            let _ = writeln!(
                out,
                "- **{}** {} — {}{}",
                o.id,
                o.text,
                o.reason.as_deref().unwrap_or(""),
                o.hint
                    .as_ref()
                    .map(|h| format!(" (`{}`)", h.replace('`', "'")))
                    .unwrap_or_default()
            );
        }
    }
    out.push_str("\n</details>\n");
    out
}
