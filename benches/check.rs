//! `cargo bench --bench check`: throughput of `pdca check` end to end.
//!
//! For corpora of 100, 1,000 and 10,000 generated process files (a few
//! hundred lines each, no errors) it measures, in the same run and on one
//! thread:
//! - the baseline: reading the files and parsing them (no checking);
//! - `check` end to end: reading, parsing, resolving, every check family,
//!   lowering to the IR and rendering diagnostics.
//!
//! It prints MB/s, files/s, the ratio to the baseline and the time per file
//! at each size (flat = linear growth), then the time to check `processes/`.
//!
//! Set PDCA_BENCH_SIZES=100,1000 to choose sizes.

#[path = "support/corpus.rs"]
mod corpus;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use pdca::load::{self, Content};

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Runs `f` `runs` times and returns the median duration.
fn measure(runs: usize, mut f: impl FnMut()) -> Duration {
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let start = Instant::now();
        f();
        times.push(start.elapsed());
    }
    median(times)
}

fn parse_only(dir: &Path) -> usize {
    let inputs = load::collect(&[dir.to_path_buf()]).expect("corpus readable");
    let mut items = 0;
    for (i, input) in inputs.iter().enumerate() {
        if let Content::Bytes(bytes) = &input.content {
            let text = std::str::from_utf8(bytes).expect("utf-8");
            let (file, diags) = pdca::syntax::parse(pdca::syntax::span::FileId(i as u32), text);
            assert!(diags.is_empty());
            items += file.processes.len();
        }
    }
    items
}

fn check_end_to_end(dir: &Path) -> usize {
    let inputs = load::collect(&[dir.to_path_buf()]).expect("corpus readable");
    let compilation = pdca::compile(inputs);
    let rendered = pdca::diag::render::human(&compilation.sources, &compilation.diagnostics, false);
    // The generated queues claim 8.6.1 without a major-incident document or
    // links to problem and improvement processes: W0701 on the first claim.
    assert!(
        compilation.diagnostics.iter().all(|d| d.code == "W0701"),
        "{rendered}"
    );
    compilation.program.map(|p| p.processes.len()).unwrap_or(0)
}

fn main() {
    let sizes: Vec<usize> = std::env::var("PDCA_BENCH_SIZES")
        .ok()
        .map(|s| s.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![100, 1_000, 10_000]);
    let root = std::env::temp_dir().join(format!("pdca-bench-{}", std::process::id()));
    println!("pdca check benchmark (one thread; median of several runs)");
    println!(
        "{:>7} {:>9} {:>12} {:>11} {:>9} {:>10} {:>13} {:>12}",
        "files", "MB", "parse (s)", "check (s)", "MB/s", "files/s", "check/parse", "us/file"
    );
    let mut per_file = Vec::new();
    for &n in &sizes {
        let dir = root.join(format!("n{n}"));
        let bytes = corpus::write_corpus(&dir, n).expect("write corpus");
        let mb = bytes as f64 / 1_000_000.0;
        let runs = if n >= 10_000 { 3 } else { 5 };
        // Warm the page cache so both measurements read from memory.
        assert_eq!(parse_only(&dir), n);
        let parse = measure(runs, || {
            assert_eq!(parse_only(&dir), n);
        });
        let check = measure(runs, || {
            assert_eq!(check_end_to_end(&dir), n);
        });
        let us = check.as_secs_f64() * 1e6 / n as f64;
        per_file.push(us);
        println!(
            "{:>7} {:>9.2} {:>12.3} {:>11.3} {:>9.1} {:>10.0} {:>13.2} {:>12.1}",
            n,
            mb,
            parse.as_secs_f64(),
            check.as_secs_f64(),
            mb / check.as_secs_f64(),
            n as f64 / check.as_secs_f64(),
            check.as_secs_f64() / parse.as_secs_f64(),
            us
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
    if let (Some(first), Some(last)) = (per_file.first(), per_file.last()) {
        println!(
            "growth: time per file at the largest size is {:.2}x the smallest (1.00 = linear)",
            last / first
        );
    }
    let processes = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("processes");
    let files = load::collect(std::slice::from_ref(&processes))
        .map(|v| v.len())
        .unwrap_or(0);
    let t = measure(20, || {
        let inputs = load::collect(std::slice::from_ref(&processes)).expect("processes/");
        let c = pdca::compile(inputs);
        assert_eq!(c.errors(), 0);
    });
    println!(
        "processes/ ({files} files): {:.2} ms per check",
        t.as_secs_f64() * 1e3
    );
    let _ = std::fs::remove_dir_all(&root);
}
