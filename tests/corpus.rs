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
    assert!(c.diagnostics.is_empty(), "{rendered}");
    assert_eq!(c.program.expect("compiles").processes.len(), 3);
}
