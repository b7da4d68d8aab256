//! The fixture corpus: one `.pdca` file per case under tests/fixtures/.
//! `CODE_slug.pdca` must produce diagnostic CODE; `ok_slug.pdca` must be
//! clean. The rendered diagnostics of every fixture are snapshotted.

use std::collections::BTreeSet;
use std::path::Path;

use pdca::diag::{codes, render};
use pdca::load;

fn expected_code(path: &Path) -> Option<String> {
    let stem = path.file_stem()?.to_str()?;
    let code = stem.split('_').next()?;
    (code != "ok").then(|| code.to_string())
}

#[test]
fn fixtures() {
    insta::glob!("fixtures/*.pdca", |path| {
        // Relative names keep snapshots independent of the checkout's location.
        let name = format!(
            "tests/fixtures/{}",
            path.file_name().and_then(|n| n.to_str()).unwrap_or("?")
        );
        let mut input = load::read_file(std::path::Path::new(&name)).expect("fixture readable");
        input.name = name;
        let compilation = pdca::compile(vec![input]);
        let codes: Vec<&str> = compilation.diagnostics.iter().map(|d| d.code).collect();
        match expected_code(path) {
            Some(code) => assert!(
                codes.contains(&code.as_str()),
                "{} should report {code}, got {codes:?}",
                path.display()
            ),
            None => assert!(
                codes.is_empty(),
                "{} should be clean, got {codes:?}",
                path.display()
            ),
        }
        let rendered = render::human(&compilation.sources, &compilation.diagnostics, false);
        insta::assert_snapshot!(rendered);
    });
}

#[test]
fn every_code_has_a_fixture() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let covered: BTreeSet<String> = std::fs::read_dir(&dir)
        .expect("fixtures folder")
        .filter_map(|e| e.ok())
        .filter_map(|e| expected_code(&e.path()))
        .collect();
    // E0104 (file too large) is exercised by tests/cli.rs with a generated file.
    let missing: Vec<&str> = codes::CODES
        .iter()
        .map(|c| c.code)
        .filter(|c| *c != "E0104" && !covered.contains(*c))
        .collect();
    assert!(missing.is_empty(), "codes without a fixture: {missing:?}");
    let unknown: Vec<&String> = covered
        .iter()
        .filter(|c| codes::lookup(c).is_none())
        .collect();
    assert!(
        unknown.is_empty(),
        "fixtures named after unknown codes: {unknown:?}"
    );
}

#[test]
fn every_code_has_an_explanation() {
    for c in codes::CODES {
        assert!(
            c.explanation.lines().count() >= 5 && c.explanation.contains("```pdca"),
            "{} needs a long explanation with an example",
            c.code
        );
    }
}
