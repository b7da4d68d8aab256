//! Coverage: which clauses of a standard the compiled definitions meet.
//!
//! A clause is `covered` when every obligation is met, `partial` when some
//! are, `missing` when none are (in particular when nothing claims it). An
//! obligation is met when all its predicates hold in one process that claims
//! the clause (`implements`), together with the documents that claim it
//! (`satisfies`); an `attested` one only by a document that `attests` it.

pub mod interval;
pub mod predicates;
pub mod reach;
pub mod report;

use serde::Serialize;

use crate::ir::{Origin, Program, Standard};
use predicates::Claimants;

pub const DEFAULT_STANDARD: &str = "iso20000-1:2018";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ClauseStatus {
    Covered,
    Partial,
    Missing,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ObligationStatus {
    Met,
    Unmet,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Evidence {
    pub file: String,
    pub line: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct ObligationResult {
    pub id: String,
    pub text: String,
    pub status: ObligationStatus,
    pub evidence: Vec<Evidence>,
    /// Why it is unmet (None when met).
    pub reason: Option<String>,
    /// The construct that would meet it (None when met).
    pub hint: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ClauseResult {
    pub id: String,
    pub title: String,
    pub status: ClauseStatus,
    /// Where the clause is claimed; empty when nothing claims it.
    pub claimed_at: Vec<Evidence>,
    pub obligations: Vec<ObligationResult>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// Clauses that have obligations (the denominator of `percent`).
    pub clauses: usize,
    pub covered: usize,
    pub partial: usize,
    pub missing: usize,
    pub obligations: usize,
    pub met: usize,
    pub percent: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub standard: String,
    pub title: Option<String>,
    pub summary: Summary,
    pub clauses: Vec<ClauseResult>,
}

/// Whether a claim of clause `claimed` counts for clause `clause`: the same
/// clause, a parent (a change process implementing 8.5.1 implements 8.5.1.2)
/// or a sub-clause (processes implementing 8.3.4.1 and 8.3.4.2 do 8.3.4).
pub fn clause_matches(claimed: &str, clause: &str) -> bool {
    claimed == clause
        || clause
            .strip_prefix(claimed)
            .is_some_and(|rest| rest.starts_with('.'))
        || claimed
            .strip_prefix(clause)
            .is_some_and(|rest| rest.starts_with('.'))
}

fn evidence(o: &Origin) -> Evidence {
    Evidence {
        file: o.file.clone(),
        line: o.line,
    }
}

/// Finds a standard by id (`iso20000-1:2018`).
pub fn find_standard<'a>(program: &'a Program, id: &str) -> Option<&'a Standard> {
    program.standards.iter().find(|s| s.id == id)
}

/// Evaluates every obligation of `standard` over `program`.
pub fn evaluate(program: &Program, standard: &Standard) -> Report {
    let reach: std::collections::HashMap<&str, reach::Reach> = program
        .processes
        .iter()
        .map(|p| (p.name.as_str(), reach::Reach::new(p)))
        .collect();
    let mut clauses = Vec::new();
    for clause in standard
        .clauses
        .iter()
        .filter(|c| !c.obligations.is_empty())
    {
        let claims = |list: &[crate::ir::Claim]| {
            list.iter()
                .filter(|c| {
                    c.standard == standard.id
                        && c.clauses.iter().any(|x| clause_matches(x, &clause.id))
                })
                .map(|c| evidence(&c.origin))
                .collect::<Vec<_>>()
        };
        let mut claimed_at = Vec::new();
        let claimants = Claimants {
            program,
            standard: &standard.id,
            reach: &reach,
            processes: program
                .processes
                .iter()
                .filter(|p| {
                    let at = claims(&p.implements);
                    let claimed = !at.is_empty();
                    claimed_at.extend(at);
                    claimed
                })
                .collect(),
            documents: program
                .documents
                .iter()
                .filter(|d| {
                    let at = claims(&d.satisfies);
                    let claimed = !at.is_empty();
                    claimed_at.extend(at);
                    claimed
                })
                .collect(),
        };
        let obligations: Vec<ObligationResult> = clause
            .obligations
            .iter()
            .map(|ob| evaluate_obligation(program, &claimants, &clause.id, ob))
            .collect();
        let met = obligations
            .iter()
            .filter(|o| o.status == ObligationStatus::Met)
            .count();
        let status = if met == obligations.len() {
            ClauseStatus::Covered
        } else if met > 0 {
            ClauseStatus::Partial
        } else {
            ClauseStatus::Missing
        };
        clauses.push(ClauseResult {
            id: clause.id.clone(),
            title: clause.title.clone(),
            status,
            claimed_at,
            obligations,
        });
    }
    let count = |s: ClauseStatus| clauses.iter().filter(|c| c.status == s).count();
    let obligations: usize = clauses.iter().map(|c| c.obligations.len()).sum();
    let met: usize = clauses
        .iter()
        .flat_map(|c| &c.obligations)
        .filter(|o| o.status == ObligationStatus::Met)
        .count();
    let covered = count(ClauseStatus::Covered);
    let summary = Summary {
        clauses: clauses.len(),
        covered,
        partial: count(ClauseStatus::Partial),
        missing: count(ClauseStatus::Missing),
        obligations,
        met,
        percent: if clauses.is_empty() {
            0.0
        } else {
            // Rounded to one decimal so reports and thresholds agree.
            (covered as f64 * 1000.0 / clauses.len() as f64).round() / 10.0
        },
    };
    Report {
        standard: standard.id.clone(),
        title: standard.title.clone(),
        summary,
        clauses,
    }
}

fn evaluate_obligation(
    program: &Program,
    claimants: &Claimants,
    clause: &str,
    ob: &crate::ir::Obligation,
) -> ObligationResult {
    let unmet = |reason: String, hint: String| ObligationResult {
        id: ob.id.clone(),
        text: ob.text.clone(),
        status: ObligationStatus::Unmet,
        evidence: Vec::new(),
        reason: Some(reason),
        hint: Some(hint),
    };
    if ob.attested {
        // Only a controlled document's word counts: someone owns it, someone
        // approved it and it is reviewed (within the catalog's maximum).
        let all: Vec<&crate::ir::Document> = program
            .documents
            .iter()
            .filter(|d| d.attests.contains(&ob.id))
            .collect();
        let attesting: Vec<Evidence> = all
            .iter()
            .filter(|d| predicates::controlled(d).is_none())
            .map(|d| evidence(&d.origin))
            .collect();
        let hint = format!("document NAME \"Title\" {{ attests {}  owner ROLE  approved by ROLE  review every 12 months }}", ob.id);
        if let (true, Some(d)) = (attesting.is_empty(), all.first()) {
            let why = predicates::controlled(d).unwrap_or_default();
            return unmet(
                format!(
                    "attested only by document `{}`, which is not controlled ({why})",
                    d.name
                ),
                format!(
                    "give document `{}` an owner, an approver and `review every 12 months`",
                    d.name
                ),
            );
        }
        if attesting.is_empty() {
            return unmet(
                "an organizational fact that only a document can attest; no document attests it"
                    .into(),
                hint,
            );
        }
        return ObligationResult {
            id: ob.id.clone(),
            text: ob.text.clone(),
            status: ObligationStatus::Met,
            evidence: attesting,
            reason: None,
            hint: None,
        };
    }
    if claimants.processes.is_empty() && claimants.documents.is_empty() {
        return unmet(
            "nothing claims this clause".into(),
            format!(
                "implements {0} {{ {clause} }} in a process, or satisfies {0} {{ {clause} }} in a document",
                claimants.standard
            ),
        );
    }
    if ob.predicates.is_empty() {
        return unmet(
            "the catalog gives this obligation no predicate".into(),
            "report this catalog entry".into(),
        );
    }
    // All predicates must hold on one claiming process (together with the
    // claiming documents): an obligation is met by one coherent definition,
    // not by pieces scattered over unrelated ones. Obligations that only
    // documents can meet are tried on the documents alone.
    let candidates = claimants
        .processes
        .iter()
        .map(|p| vec![*p])
        .chain(std::iter::once(Vec::new()));
    let mut closest: Option<(usize, &crate::ir::Predicate, Option<String>)> = None;
    // A process with unreachable states is a defective definition: what it
    // shows is not evidence until every state can be reached.
    let mut defective: Option<(String, Vec<&str>)> = None;
    for processes in candidates {
        let dead: Option<(String, Vec<&str>)> = processes.first().and_then(|p| {
            let dead = claimants
                .reach
                .get(p.name.as_str())
                .map(|r| r.unreachable())
                .unwrap_or_default();
            (!dead.is_empty()).then(|| (p.name.clone(), dead))
        });
        let single = Claimants {
            program: claimants.program,
            standard: claimants.standard,
            processes,
            documents: claimants.documents.clone(),
            reach: claimants.reach,
        };
        let mut found = Vec::new();
        let mut failed = None;
        for (i, p) in ob.predicates.iter().enumerate() {
            match predicates::evaluate(p, &single) {
                Ok(origins) => found.extend(origins.iter().map(evidence)),
                Err(why) => {
                    failed = Some((i, p, why));
                    break;
                }
            }
        }
        match failed {
            None if dead.is_some() => {
                defective = defective.or(dead);
            }
            None => {
                // Every claim by a defective process spoils the clause, even
                // where another process meets the obligation: a library with
                // dead parts is never at 100%.
                let spoiled = claimants.processes.iter().find_map(|p| {
                    let dead = claimants.reach.get(p.name.as_str())?.unreachable();
                    (!dead.is_empty()).then(|| (p.name.clone(), dead))
                });
                if let Some((name, dead)) = spoiled {
                    let (reason, hint) = dead_parts(&name, &dead, "claimed by");
                    return unmet(reason, hint);
                }
                found.sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
                found.dedup();
                return ObligationResult {
                    id: ob.id.clone(),
                    text: ob.text.clone(),
                    status: ObligationStatus::Met,
                    evidence: found,
                    reason: None,
                    hint: None,
                };
            }
            Some((i, p, why)) => {
                // The candidate that got furthest explains; among equals,
                // one with a specific reason beats a generic one.
                if closest.as_ref().is_none_or(|(best, _, w)| {
                    i > *best || (i == *best && w.is_none() && why.is_some())
                }) {
                    closest = Some((i, p, why));
                }
            }
        }
    }
    if let Some((name, dead)) = defective {
        let (reason, hint) = dead_parts(&name, &dead, "met only by");
        return unmet(reason, hint);
    }
    let (reason, hint) = match closest {
        Some((_, p, why)) => {
            let (generic, hint) = predicates::explain(p, claimants, clause);
            let reason = why.unwrap_or(generic);
            // Met elsewhere, but not in the definition that meets the rest.
            if predicates::evaluate(p, claimants).is_ok() && ob.predicates.len() > 1 {
                (
                    format!("no single claiming process meets every part ({reason} among the processes that meet the rest)"),
                    hint,
                )
            } else {
                (reason, hint)
            }
        }
        None => ("no claiming definition".into(), String::new()),
    };
    unmet(reason, hint)
}

/// The reason and hint for an obligation spoiled by a process with states no
/// instance can reach.
fn dead_parts(name: &str, dead: &[&str], how: &str) -> (String, String) {
    let states: Vec<String> = dead.iter().map(|s| format!("`{s}`")).collect();
    (
        format!(
            "{how} process `{name}`, which has unreachable state{} {}: a definition with dead parts is not evidence",
            if states.len() == 1 { "" } else { "s" },
            states.join(", ")
        ),
        format!(
            "add a transition into {} in process `{name}`, or delete what no instance can reach",
            states.join(", ")
        ),
    )
}

/// Where a clause is claimed in the source, for diagnostics on the claim.
pub struct ClaimSite {
    pub standard: String,
    pub clause: String,
    pub span: crate::syntax::span::Span,
}

/// W0701: for each claimed clause, one warning per unmet obligation at the
/// first place that claims it.
pub fn claim_warnings(program: &Program, sites: &[ClaimSite]) -> Vec<crate::diag::Diagnostic> {
    use std::collections::{HashMap, HashSet};
    let mut reports: HashMap<&str, Report> = HashMap::new();
    // (standard, clause) pairs already warned about, so each unmet
    // obligation is reported once, at the first claim that reaches it.
    let mut warned: HashSet<(String, String)> = HashSet::new();
    let mut out = Vec::new();
    for site in sites {
        if !reports.contains_key(site.standard.as_str()) {
            let Some(standard) = find_standard(program, &site.standard) else {
                continue;
            };
            reports.insert(site.standard.as_str(), evaluate(program, standard));
        }
        let Some(report) = reports.get(site.standard.as_str()) else {
            continue;
        };
        // A claim reaches sub-clauses (7.5 claims 7.5.1-7.5.4) and parents.
        let reached = report.clauses.iter().filter(|c| {
            clause_matches(&site.clause, &c.id)
                && warned.insert((site.standard.clone(), c.id.clone()))
        });
        for clause in reached {
            for o in clause
                .obligations
                .iter()
                .filter(|o| o.status == ObligationStatus::Unmet)
            {
                let mut d = crate::diag::Diagnostic::new(
                    "W0701",
                    site.span,
                    format!(
                        "clause {} is claimed but obligation {} is not met: {}",
                        clause.id,
                        o.id,
                        o.reason.as_deref().unwrap_or("unmet")
                    ),
                )
                .label(format!("{}: {}", o.id, o.text));
                if let Some(h) = &o.hint {
                    d = d.help(format!("add: {h}"));
                }
                out.push(d);
            }
        }
    }
    out
}
