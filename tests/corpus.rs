//! The benchmark corpus is realistic and clean: if the generator drifts
//! from the language, the benchmark would measure error paths instead.

#[path = "../benches/support/corpus.rs"]
#[allow(dead_code)] // the benchmark also writes corpora to disk
mod corpus;

#[test]
fn generated_files_check_clean() {
    let inputs: Vec<_> = (0..3)
        .map(|i| pdca::load::Input::from_text(&format!("q{i}.pdca"), &corpus::process_file(i)))
        .collect();
    let lines = corpus::process_file(0).lines().count();
    assert!(lines >= 100, "a generated file has {lines} lines");
    let c = pdca::compile(inputs);
    let rendered = pdca::diag::render::human(&c.sources, &c.diagnostics, false);
    // Only the coverage warnings of the claim (no major-incident document,
    // no problem or improvement process in the corpus).
    assert!(
        c.diagnostics.iter().all(|d| d.code == "W0701"),
        "{rendered}"
    );
    assert!(c.diagnostics.len() <= 12, "{rendered}");
    assert_eq!(c.program.expect("compiles").processes.len(), 3);
}
