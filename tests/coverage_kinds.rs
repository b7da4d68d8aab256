//! Every obligation of the ISO 20000-1 catalog is checked by predicates of the
//! evidence kinds the shared catalog gives it (`tests/coverage_kinds.tsv`, a
//! copy of its evidence column), or the stdlib says in a `// weaker: KIND ...`
//! comment right above the obligation (`// weaker: LINK: the target is a
//! document`) why a weaker check is the honest one.
//! Attested obligations carry an `// attested: ...` comment with the reason.
//! This keeps a predicate from being dropped or weakened silently.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use pdca::coverage;
use pdca::ir::{Predicate, Standard};
use pdca::load::Input;

/// The evidence kinds of the shared catalog (section 0.2).
const KINDS: [&str; 9] = [
    "STATE",
    "TRANSITION",
    "ROLE",
    "APPROVAL",
    "SLA",
    "RECORD",
    "ESCALATION",
    "REVIEW",
    "LINK",
];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The compiled stdlib catalog.
fn catalog() -> Standard {
    let c = pdca::compile(vec![Input::from_text("empty.pdca", "role someone\n")]);
    let program = c.program.expect("stdlib compiles");
    coverage::find_standard(&program, coverage::DEFAULT_STANDARD)
        .expect("catalog")
        .clone()
}

/// Obligation id -> evidence kinds, from the copy of the shared catalog.
/// Each entry is needed; `ESCALATION|REVIEW` (the catalog's `ESCALATION/REVIEW`)
/// is met by either.
fn catalog_kinds() -> BTreeMap<String, Vec<Vec<String>>> {
    let text = std::fs::read_to_string(root().join("tests/coverage_kinds.tsv")).expect("tsv");
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let mut cols = l.split('\t');
            let id = cols.next().expect("id").to_string();
            let kinds = cols
                .next()
                .expect("kinds")
                .split(',')
                .filter(|k| !k.is_empty())
                .map(|alts| {
                    alts.split('|')
                        .map(|k| {
                            assert!(KINDS.contains(&k), "unknown kind {k} for {id}");
                            k.to_string()
                        })
                        .collect()
                })
                .collect();
            (id, kinds)
        })
        .collect()
}

/// The evidence kinds one predicate shows. A transition between tagged
/// states shows both states; a controlled document is a maintained record
/// with an owner (role), an approver and a review interval; an escalation to
/// a role names that role; a state or transition into `reviewed` is a review
/// of each instance (post-implementation, major incident, test reviews).
fn kinds_of(p: &Predicate) -> Vec<&'static str> {
    match p {
        Predicate::State { tag } if tag == "reviewed" => vec!["STATE", "REVIEW"],
        Predicate::State { .. } => vec!["STATE"],
        Predicate::Transition { to_tag, .. } if to_tag == "reviewed" => {
            vec!["TRANSITION", "STATE", "REVIEW"]
        }
        Predicate::Transition { .. } => vec!["TRANSITION", "STATE"],
        Predicate::Field { .. } | Predicate::FieldOfType { .. } => vec!["RECORD"],
        Predicate::Role { .. } | Predicate::Owner => vec!["ROLE"],
        Predicate::Approval { before_tag: None } => vec!["APPROVAL"],
        Predicate::Approval {
            before_tag: Some(_),
        } => vec!["APPROVAL", "STATE"],
        Predicate::Sla { .. } => vec!["SLA"],
        Predicate::Escalation { to: None } => vec!["ESCALATION"],
        Predicate::Escalation { to: Some(_) } => vec!["ESCALATION", "ROLE"],
        Predicate::Notification { .. } => vec![],
        Predicate::Schedule { .. } => vec!["REVIEW"],
        Predicate::Document { .. } => vec!["RECORD", "ROLE", "APPROVAL", "REVIEW"],
        Predicate::Link { .. } | Predicate::LinkFrom { .. } => vec!["LINK"],
    }
}

/// The comment block right above each obligation line of the stdlib source.
fn comments_above(source: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut block = String::new();
    for line in source.lines() {
        let t = line.trim();
        if let Some(c) = t.strip_prefix("//") {
            block.push_str(c.trim());
            block.push('\n');
        } else if let Some(rest) = t.strip_prefix("obligation ") {
            let id = rest.split_whitespace().next().unwrap_or_default();
            out.insert(id.to_string(), std::mem::take(&mut block));
        } else {
            block.clear();
        }
    }
    out
}

/// The kind a `weaker: KIND: reason` comment line justifies.
fn weaker_kind(line: &str) -> Option<&str> {
    let rest = line.strip_prefix("weaker:")?.trim_start();
    let kind = rest.split(':').next()?.trim();
    KINDS.contains(&kind).then_some(kind)
}

/// Every way the catalog departs from the shared catalog's evidence kinds
/// without a written reason.
fn unjustified(
    standard: &Standard,
    kinds: &BTreeMap<String, Vec<Vec<String>>>,
    source: &str,
) -> Vec<String> {
    let comments = comments_above(source);
    let mut problems = Vec::new();
    let mut seen = BTreeSet::new();
    for o in standard.clauses.iter().flat_map(|c| &c.obligations) {
        seen.insert(o.id.clone());
        let Some(wanted) = kinds.get(&o.id) else {
            problems.push(format!("{}: not in the shared catalog", o.id));
            continue;
        };
        let comment = comments.get(&o.id).cloned().unwrap_or_default();
        if o.attested {
            if !comment.lines().any(|l| l.starts_with("attested:")) {
                problems.push(format!("{}: attested without an `attested:` reason", o.id));
            }
            continue;
        }
        let shown: BTreeSet<&str> = o.predicates.iter().flat_map(kinds_of).collect();
        for alts in wanted {
            if alts.iter().any(|k| shown.contains(k.as_str())) {
                continue;
            }
            let justified = comment
                .lines()
                .any(|l| weaker_kind(l).is_some_and(|w| alts.iter().any(|k| k == w)));
            if !justified {
                let k = alts.join("|");
                problems.push(format!(
                    "{}: no {k} predicate and no `weaker: {k}` reason",
                    o.id
                ));
            }
        }
    }
    for id in kinds.keys().filter(|id| !seen.contains(*id)) {
        problems.push(format!("{id}: in the shared catalog but not in the stdlib"));
    }
    problems
}

fn stdlib_source() -> String {
    std::fs::read_to_string(root().join("stdlib/iso20000.pdca")).expect("stdlib source")
}

#[test]
fn every_obligation_has_a_predicate_of_each_catalog_kind_or_a_written_reason() {
    let problems = unjustified(&catalog(), &catalog_kinds(), &stdlib_source());
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_shared_catalog_copy_lists_all_209_obligations() {
    assert_eq!(catalog_kinds().len(), 209);
    assert!(catalog_kinds().values().all(|k| !k.is_empty()));
}

#[test]
fn dropping_a_predicate_is_noticed() {
    let mut standard = catalog();
    let o = standard
        .clauses
        .iter_mut()
        .flat_map(|c| &mut c.obligations)
        .find(|o| o.id == "8.6.1-10")
        .expect("8.6.1-10");
    o.predicates
        .retain(|p| !matches!(p, Predicate::Link { .. }));
    let problems = unjustified(&standard, &catalog_kinds(), &stdlib_source());
    assert_eq!(
        problems,
        vec!["8.6.1-10: no LINK predicate and no `weaker: LINK` reason".to_string()]
    );
}

#[test]
fn removing_a_written_reason_is_noticed() {
    let source = stdlib_source();
    let comments = comments_above(&source);
    let (id, kind) = comments
        .iter()
        .find_map(|(id, c)| {
            let kind = c.lines().find_map(weaker_kind)?;
            Some((id.clone(), kind.to_string()))
        })
        .expect("at least one weaker reason");
    let stripped: String = source
        .lines()
        .filter(|l| !l.trim().starts_with("// weaker:"))
        .map(|l| format!("{l}\n"))
        .collect();
    let problems = unjustified(&catalog(), &catalog_kinds(), &stripped);
    let expected = format!("{id}: no {kind} predicate and no `weaker: {kind}` reason");
    assert!(problems.contains(&expected), "{problems:?}");

    let no_attested: String = source
        .lines()
        .filter(|l| !l.trim().starts_with("// attested:"))
        .map(|l| format!("{l}\n"))
        .collect();
    let problems = unjustified(&catalog(), &catalog_kinds(), &no_attested);
    assert!(
        problems.contains(&"7.3-01: attested without an `attested:` reason".to_string()),
        "{problems:?}"
    );
}
