//! The gaming corpus: one folder per trick under tests/gaming/, each a set of
//! `.pdca` files that tries to earn coverage it does not deserve, and an
//! `expect` file with the verdict. Every trick must be rejected with a
//! diagnostic (an error from `pdca check`, or W0701 on the claim whose
//! obligation the trick does not meet), and its diagnostics and unmet
//! obligations (with their reasons) are snapshotted.
//!
//! `expect` lines:
//!   code CODE            the diagnostics include CODE (at least one line)
//!   unmet ID TEXT        obligation ID is unmet and its reason contains TEXT
//!   at-most PERCENT      the coverage percentage is at most PERCENT

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use pdca::coverage::{self, ObligationStatus};
use pdca::load;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

struct Expect {
    codes: Vec<String>,
    unmet: Vec<(String, String)>,
    at_most: Option<f64>,
}

fn read_expect(dir: &Path) -> Expect {
    let text = std::fs::read_to_string(dir.join("expect"))
        .unwrap_or_else(|e| panic!("{}: no expect file: {e}", dir.display()));
    let mut x = Expect {
        codes: Vec::new(),
        unmet: Vec::new(),
        at_most: None,
    };
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, rest) = line.split_once(' ').unwrap_or((line, ""));
        match key {
            "code" => x.codes.push(rest.trim().to_string()),
            "unmet" => {
                let (id, why) = rest.trim().split_once(' ').unwrap_or((rest.trim(), ""));
                x.unmet.push((id.to_string(), why.trim().to_string()));
            }
            "at-most" => x.at_most = Some(rest.trim().parse().expect("at-most PERCENT")),
            other => panic!("{}: unknown expect line `{other}`", dir.display()),
        }
    }
    assert!(
        !x.codes.is_empty(),
        "{}: every trick must be rejected with a diagnostic",
        dir.display()
    );
    x
}

/// Checks one trick against its `expect` file and returns the snapshot text.
fn run(dir: &Path) -> String {
    let expect = read_expect(dir);
    let mut inputs = load::collect(&[dir.to_path_buf()]).expect("trick folder");
    inputs.retain(|i| i.name.ends_with(".pdca"));
    for i in &mut inputs {
        let path = i.path.clone().expect("path");
        i.name = path
            .strip_prefix(root())
            .expect("inside the crate")
            .to_string_lossy()
            .into_owned();
    }
    let c = pdca::compile(inputs);
    let codes: Vec<&str> = c.diagnostics.iter().map(|d| d.code).collect();
    for code in &expect.codes {
        assert!(
            codes.contains(&code.as_str()),
            "{}: expected {code}, got {codes:?}",
            dir.display()
        );
    }
    let mut out = pdca::diag::render::human(&c.sources, &c.diagnostics, false);
    match &c.program {
        None => {
            assert!(
                expect.unmet.is_empty() && expect.at_most.is_none(),
                "{}: does not compile, so it has no coverage to check:\n{out}",
                dir.display()
            );
        }
        Some(program) => {
            let iso =
                coverage::find_standard(program, coverage::DEFAULT_STANDARD).expect("catalog");
            let report = coverage::evaluate(program, iso);
            let s = &report.summary;
            let _ = writeln!(
                out,
                "coverage: {}% ({}/{} clauses, {}/{} obligations)",
                s.percent, s.covered, s.clauses, s.met, s.obligations
            );
            for clause in report.clauses.iter().filter(|c| !c.claimed_at.is_empty()) {
                for o in clause
                    .obligations
                    .iter()
                    .filter(|o| o.status == ObligationStatus::Unmet)
                {
                    let _ = writeln!(out, "unmet {}: {}", o.id, o.reason.as_deref().unwrap_or(""));
                }
            }
            if let Some(max) = expect.at_most {
                assert!(
                    s.percent <= max,
                    "{}: scores {}%, expected at most {max}%",
                    dir.display(),
                    s.percent
                );
            }
            for (id, why) in &expect.unmet {
                let o = report
                    .clauses
                    .iter()
                    .flat_map(|c| &c.obligations)
                    .find(|o| &o.id == id)
                    .unwrap_or_else(|| panic!("{}: no obligation {id}", dir.display()));
                assert_eq!(
                    o.status,
                    ObligationStatus::Unmet,
                    "{}: {id} should be unmet",
                    dir.display()
                );
                let reason = o.reason.as_deref().unwrap_or("");
                assert!(
                    reason.contains(why.as_str()),
                    "{}: reason of {id} is `{reason}`, expected it to contain `{why}`",
                    dir.display()
                );
            }
        }
    }
    out
}

#[test]
fn every_trick_is_rejected() {
    let base = root().join("tests/gaming");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&base)
        .expect("tests/gaming")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    assert!(dirs.len() >= 10, "the corpus has {} tricks", dirs.len());
    // Every trick is checked before the first failure is reported, so one
    // run shows all of them.
    let mut failed = Vec::new();
    for dir in dirs {
        let name = dir
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("?")
            .to_string();
        match std::panic::catch_unwind(|| run(&dir)) {
            Ok(text) => {
                insta::with_settings!({ snapshot_suffix => name.clone(), description => name }, {
                    insta::assert_snapshot!(text);
                });
            }
            Err(_) => failed.push(name),
        }
    }
    assert!(
        failed.is_empty(),
        "tricks that were not rejected as expected: {failed:?}"
    );
}
