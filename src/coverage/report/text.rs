//! The human report: a table of clauses, then every obligation with its
//! evidence or the reason it is unmet.

use std::fmt::Write;

use super::super::{ObligationStatus, Report};
use super::status_word;

pub fn render(report: &Report) -> String {
    let mut out = String::new();
    let s = &report.summary;
    let _ = writeln!(
        out,
        "{} coverage: {:.1}% ({} of {} clauses covered, {} partial, {} missing; {} of {} obligations met)\n",
        report.standard, s.percent, s.covered, s.clauses, s.partial, s.missing, s.met, s.obligations
    );
    let width = report
        .clauses
        .iter()
        .map(|c| c.title.len())
        .max()
        .unwrap_or(10)
        .min(60);
    let _ = writeln!(
        out,
        "{:<9} {:<width$}  {:<8} met",
        "clause", "title", "status"
    );
    for c in &report.clauses {
        let met = c
            .obligations
            .iter()
            .filter(|o| o.status == ObligationStatus::Met)
            .count();
        let title: String = c.title.chars().take(width).collect();
        let _ = writeln!(
            out,
            "{:<9} {:<width$}  {:<8} {}/{}",
            c.id,
            title,
            status_word(c.status),
            met,
            c.obligations.len()
        );
    }
    out.push('\n');
    for c in &report.clauses {
        let _ = writeln!(out, "{} {} [{}]", c.id, c.title, status_word(c.status));
        for o in &c.obligations {
            match o.status {
                ObligationStatus::Met => {
                    let ev: Vec<String> = o
                        .evidence
                        .iter()
                        .take(4)
                        .map(|e| format!("{}:{}", e.file, e.line))
                        .collect();
                    let more = o.evidence.len().saturating_sub(4);
                    let more = if more > 0 {
                        format!(" (+{more})")
                    } else {
                        String::new()
                    };
                    let _ = writeln!(out, "  met    {}  {}{more}", o.id, ev.join(", "));
                }
                ObligationStatus::Unmet => {
                    let _ = writeln!(
                        out,
                        "  unmet  {}  {}: {}",
                        o.id,
                        o.text,
                        o.reason.as_deref().unwrap_or("")
                    );
                    if let Some(h) = &o.hint {
                        let _ = writeln!(out, "         help: {h}");
                    }
                }
            }
        }
    }
    out
}
