//! The reference library covers every clause; removing one construct from it
//! makes exactly the obligations that relied on it unmet, for every clause
//! family. This shows that each verdict is earned by a real construct.

use std::collections::BTreeSet;
use std::path::PathBuf;

use pdca::coverage::{self, ObligationStatus};
use pdca::load::{self, Content, Input};

fn library() -> Vec<Input> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut inputs = load::collect(&[root.join("processes")]).expect("processes/");
    for i in &mut inputs {
        let path = i.path.take().unwrap();
        i.name = path
            .strip_prefix(&root)
            .unwrap()
            .to_string_lossy()
            .into_owned();
    }
    inputs
}

fn unmet(inputs: Vec<Input>) -> BTreeSet<String> {
    let c = pdca::compile(inputs);
    let rendered = pdca::diag::render::human(&c.sources, &c.diagnostics, false);
    let program = c
        .program
        .unwrap_or_else(|| panic!("does not compile:\n{rendered}"));
    let iso = coverage::find_standard(&program, coverage::DEFAULT_STANDARD).unwrap();
    coverage::evaluate(&program, iso)
        .clauses
        .iter()
        .flat_map(|c| &c.obligations)
        .filter(|o| o.status == ObligationStatus::Unmet)
        .map(|o| o.id.clone())
        .collect()
}

/// Replaces the first `old` after `anchor` in `file` with `new`.
fn edit(file: &str, anchor: &str, old: &str, new: &str) -> Vec<Input> {
    let mut inputs = library();
    let input = inputs
        .iter_mut()
        .find(|i| i.name == file)
        .unwrap_or_else(|| panic!("no {file}"));
    let Content::Bytes(bytes) = &input.content else {
        panic!("{file} unreadable")
    };
    let text = String::from_utf8(bytes.clone()).unwrap();
    let at = text
        .find(anchor)
        .unwrap_or_else(|| panic!("{file}: no `{anchor}`"));
    let pos = at
        + text[at..]
            .find(old)
            .unwrap_or_else(|| panic!("{file}: no `{old}` after `{anchor}`"));
    let edited = format!("{}{}{}", &text[..pos], new, &text[pos + old.len()..]);
    input.content = Content::Bytes(edited.into_bytes());
    inputs
}

fn assert_unmet(inputs: Vec<Input>, expected: &[&str]) {
    let got = unmet(inputs);
    let want: BTreeSet<String> = expected.iter().map(|s| s.to_string()).collect();
    assert_eq!(got, want);
}

#[test]
fn the_library_covers_everything() {
    assert_unmet(library(), &[]);
}

#[test]
fn clause_5_policy_without_review_interval() {
    // A policy that is never reviewed is not controlled documented information.
    let inputs = edit(
        "processes/governance.pdca",
        "document sm_policy",
        "  review every 12 months\n",
        "",
    );
    assert_unmet(inputs, &["5.2.1-01", "5.2.2-01"]);
}

#[test]
fn clause_6_risk_review_without_effectiveness_check() {
    let inputs = edit(
        "processes/governance_risk.pdca",
        "process sms_risk_review",
        "is reviewed, verified",
        "is reviewed",
    );
    assert_unmet(inputs, &["6.1-03"]);
}

#[test]
fn clause_8_5_change_without_back_out() {
    let inputs = edit(
        "processes/change.pdca",
        "transition back_out",
        "failed -> backed_out",
        "failed -> reviewed",
    );
    assert_unmet(inputs, &["8.5.1.3-07"]);
}

#[test]
fn clause_8_6_major_incident_not_escalated_to_top_management() {
    let inputs = edit(
        "processes/incident.pdca",
        "escalation major",
        "notify top_management, incident_manager",
        "notify incident_manager",
    );
    assert_unmet(inputs, &["8.6.1-08"]);
}

#[test]
fn clause_8_7_continuity_tests_not_on_a_cycle() {
    let inputs = edit(
        "processes/continuity.pdca",
        "one after a major change",
        "  schedule every 6 months\n",
        "",
    );
    assert_unmet(inputs, &["8.7.2-06"]);
}

#[test]
fn clause_9_internal_audit_not_planned() {
    let inputs = edit(
        "processes/internal_audit.pdca",
        "process ",
        "  schedule every 3 months\n",
        "",
    );
    assert_unmet(inputs, &["9.2-01"]);
}

#[test]
fn clause_10_nonconformity_without_investigation() {
    let inputs = edit(
        "processes/nonconformity.pdca",
        "state investigating",
        "is investigated",
        "is active",
    );
    assert_unmet(inputs, &["10.1-02"]);
}

#[test]
fn clause_8_2_configuration_audit_missing_schedule() {
    let inputs = edit(
        "processes/configuration.pdca",
        "process configuration_audit",
        "  schedule every 6 months\n",
        "",
    );
    assert_unmet(inputs, &["8.2.6-07"]);
}
