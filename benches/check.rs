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
//! Then a one-process scaling series: a single process of 1,000, 10,000 and
//! 40,000 states shaped as a chain and as a star, checked end to end, with
//! the time per state (flat = linear in states + transitions).
//!
//! Set PDCA_BENCH_SIZES=100,1000 to choose corpus sizes (`0` skips the
//! corpus), PDCA_BENCH_STATES=1000,10000 the states of the series.

#[path = "support/corpus.rs"]
mod corpus;
#[path = "support/scaling.rs"]
mod scaling;

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

/// CPU time of this thread so far (Linux: `/proc/thread-self/schedstat`),
/// so that figures stay comparable on a machine other jobs are loading.
fn thread_cpu() -> Option<Duration> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: u64 = text.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(ns))
}

/// Runs `f` `runs` times; returns the median wall time and the median CPU
/// time of this thread (zero where the platform does not tell).
fn measure_cpu(runs: usize, mut f: impl FnMut()) -> (Duration, Duration) {
    let mut wall = Vec::with_capacity(runs);
    let mut cpu = Vec::with_capacity(runs);
    for _ in 0..runs {
        let c0 = thread_cpu();
        let start = Instant::now();
        f();
        wall.push(start.elapsed());
        cpu.push(match (c0, thread_cpu()) {
            (Some(a), Some(b)) => b.saturating_sub(a),
            _ => Duration::ZERO,
        });
    }
    (median(wall), median(cpu))
}

/// Checks one generated process of `n` states; returns the median wall
/// and CPU times of parsing alone and of `check` end to end.
fn one_process(root: &Path, n: usize, shape: scaling::Shape) -> [(Duration, Duration); 2] {
    let dir = root.join(format!("one-{}-{n}", shape.name()));
    std::fs::create_dir_all(&dir).expect("bench dir");
    std::fs::write(dir.join("big.pdca"), scaling::one_process(n, shape)).expect("write");
    let runs = if n >= 10_000 { 3 } else { 5 };
    let parse = measure_cpu(runs, || {
        assert_eq!(parse_only(&dir), 1);
    });
    let check = measure_cpu(runs, || {
        let inputs = load::collect(std::slice::from_ref(&dir)).expect("readable");
        let c = pdca::compile(inputs);
        let rendered = pdca::diag::render::human(&c.sources, &c.diagnostics, false);
        assert!(c.diagnostics.is_empty(), "{rendered}");
    });
    let _ = std::fs::remove_dir_all(&dir);
    [parse, check]
}

fn scaling_series(root: &Path) {
    let states: Vec<usize> = std::env::var("PDCA_BENCH_STATES")
        .ok()
        .map(|s| s.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![1_000, 10_000, 40_000]);
    println!("one process, many states (median; cpu = this thread's CPU time)");
    println!(
        "{:>6} {:>8} {:>10} {:>10} {:>10} {:>10} {:>13} {:>13}",
        "shape",
        "states",
        "parse (s)",
        "check (s)",
        "parse cpu",
        "check cpu",
        "cpu us/state",
        "check-parse"
    );
    for shape in [scaling::Shape::Chain, scaling::Shape::Star] {
        let mut per_state = Vec::new();
        for &n in states.iter().filter(|&&n| n >= 4) {
            let [(parse, parse_cpu), (check, check_cpu)] = one_process(root, n, shape);
            let cpu = if check_cpu > Duration::ZERO {
                check_cpu
            } else {
                check
            };
            let us = cpu.as_secs_f64() * 1e6 / n as f64;
            per_state.push(us);
            println!(
                "{:>6} {:>8} {:>10.3} {:>10.3} {:>10.3} {:>10.3} {:>13.2} {:>13.3}",
                shape.name(),
                n,
                parse.as_secs_f64(),
                check.as_secs_f64(),
                parse_cpu.as_secs_f64(),
                check_cpu.as_secs_f64(),
                us,
                (check_cpu.saturating_sub(parse_cpu)).as_secs_f64()
            );
        }
        if let (Some(first), Some(last)) = (per_state.first(), per_state.last()) {
            println!(
                "{:>6} growth: time per state at the largest size is {:.2}x the smallest (1.00 = linear)",
                shape.name(),
                last / first
            );
        }
    }
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
    for &n in sizes.iter().filter(|&&n| n > 0) {
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
    scaling_series(&root);
    let _ = std::fs::remove_dir_all(&root);
}
