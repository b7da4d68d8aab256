//! `cargo bench --bench coverage`: `pdca coverage` end to end.
//!
//! Measures, on one thread and in the same run: the baseline (compile only:
//! read, parse, check, lower) and coverage end to end (the same plus
//! evaluating every obligation of ISO/IEC 20000-1:2018 and rendering the
//! text, JSON, JUnit, SARIF and Markdown reports), for `processes/` and for
//! a generated corpus of 1,000 processes that all claim 8.6.1.

#[path = "support/corpus.rs"]
mod corpus;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use pdca::coverage::{self, report};
use pdca::load;

fn measure(runs: usize, mut f: impl FnMut()) -> Duration {
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect();
    times.sort();
    times[times.len() / 2]
}

fn compile(dir: &Path) -> pdca::Compilation {
    let inputs = load::collect(&[dir.to_path_buf()]).expect("readable");
    pdca::compile(inputs)
}

fn coverage_end_to_end(dir: &Path) -> usize {
    let c = compile(dir);
    let program = c.program.expect("compiles");
    let standard = coverage::find_standard(&program, coverage::DEFAULT_STANDARD).expect("catalog");
    let r = coverage::evaluate(&program, standard);
    let mut bytes = 0;
    for f in [
        report::Format::Text,
        report::Format::Json,
        report::Format::Junit,
        report::Format::Sarif,
        report::Format::Markdown,
    ] {
        bytes += report::render(&r, f).expect("renders").len();
    }
    bytes
}

fn row(name: &str, dir: &Path, runs: usize) {
    let files = load::collect(&[dir.to_path_buf()])
        .map(|v| v.len())
        .unwrap_or(0);
    let base = measure(runs, || {
        assert!(compile(dir).program.is_some());
    });
    let full = measure(runs, || {
        assert!(coverage_end_to_end(dir) > 0);
    });
    println!(
        "{:<28} {:>6} {:>14.2} {:>16.2} {:>8.2}",
        name,
        files,
        base.as_secs_f64() * 1e3,
        full.as_secs_f64() * 1e3,
        full.as_secs_f64() / base.as_secs_f64()
    );
}

fn main() {
    println!("pdca coverage benchmark (one thread; median of runs)");
    println!(
        "{:<28} {:>6} {:>14} {:>16} {:>8}",
        "corpus", "files", "compile (ms)", "coverage (ms)", "ratio"
    );
    let processes = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("processes");
    row("processes/", &processes, 20);
    let dir = std::env::temp_dir().join(format!("pdca-cov-bench-{}", std::process::id()));
    corpus::write_corpus(&dir, 1_000).expect("corpus");
    row("generated, 1,000 processes", &dir, 5);
    let _ = std::fs::remove_dir_all(&dir);
}
