//! Every syntax error (E01xx) comes with a help line, and brace mistakes are
//! reported at the brace. The reference processes are truncated and mutated
//! in many ways (deterministically), and every syntax diagnostic of every
//! variant must carry a non-empty help.

use std::collections::BTreeMap;
use std::path::Path;

use pdca::syntax::{self, span::FileId};

/// A small deterministic generator, so failures reproduce.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn floor_boundary(text: &str, mut i: usize) -> usize {
    i = i.min(text.len());
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Snippets a designer drops or mistypes.
const NOISE: &[&str] = &[
    "}",
    "{",
    ":",
    ";",
    "->",
    "\"",
    "after",
    "when",
    "by",
    "state",
    "4",
    "4x",
    "transition",
    "process",
    "(",
    ")",
    ",",
    "`",
    "is",
    "%",
    "=",
    "\n}",
    "{\n",
];

fn mutations(text: &str, rng: &mut Lcg) -> Vec<String> {
    let mut out = Vec::new();
    // Truncations.
    for _ in 0..12 {
        let cut = floor_boundary(text, rng.below(text.len()));
        out.push(text[..cut].to_string());
    }
    // A deleted line (often a `}` or a clause).
    let lines: Vec<&str> = text.lines().collect();
    for _ in 0..12 {
        let drop = rng.below(lines.len());
        let mut v = lines.clone();
        v.remove(drop);
        out.push(v.join("\n"));
    }
    // A deleted or inserted token.
    for _ in 0..12 {
        let at = floor_boundary(text, rng.below(text.len()));
        let rest = &text[at..];
        let word_len = rest
            .char_indices()
            .find(|(_, c)| c.is_whitespace())
            .map(|(i, _)| i)
            .unwrap_or(rest.len());
        out.push(format!("{}{}", &text[..at], &rest[word_len..]));
        let noise = NOISE[rng.below(NOISE.len())];
        out.push(format!("{}{noise}{}", &text[..at], rest));
    }
    out
}

#[test]
fn every_syntax_error_has_a_help_line() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("processes");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("processes/")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "pdca"))
        .collect();
    files.sort();
    let mut rng = Lcg(0x5eed10);
    let mut by_code: BTreeMap<&'static str, usize> = BTreeMap::new();
    let mut missing = Vec::new();
    for path in &files {
        let text = std::fs::read_to_string(path).expect("readable");
        for variant in mutations(&text, &mut rng) {
            let (_, diags) = syntax::parse(FileId(0), &variant);
            for d in diags.iter().filter(|d| d.code.starts_with("E01")) {
                *by_code.entry(d.code).or_default() += 1;
                if d.help.as_deref().is_none_or(|h| h.trim().is_empty()) {
                    missing.push(format!("{}: {} ({})", d.code, d.message, path.display()));
                }
            }
        }
    }
    let total: usize = by_code.values().sum();
    assert!(total >= 500, "too few syntax errors produced: {by_code:?}");
    assert!(
        by_code.contains_key("E0101") && by_code.contains_key("E0106"),
        "{by_code:?}"
    );
    assert!(
        missing.is_empty(),
        "{} of {total} syntax errors have no help, e.g. {:?}",
        missing.len(),
        &missing[..missing.len().min(10)]
    );
}

fn parse_one(text: &str) -> Vec<pdca::diag::Diagnostic> {
    syntax::parse(FileId(0), text).1
}

fn line_of(text: &str, offset: u32) -> usize {
    text[..offset as usize].matches('\n').count() + 1
}

#[test]
fn a_missing_brace_is_reported_at_the_unclosed_brace() {
    // The SLA's `}` is missing; pest only stumbles at the end of the file.
    let text = "use stdlib.roles.{a}\nrecord R { x text }\nprocess p \"P\" for R {\n  sla s \"S\" {\n    from a until b\n    target 4h\n\n  state a initial\n  state b final\n}\nrole z\n";
    let diags = parse_one(text);
    assert_eq!(diags.len(), 1, "{diags:?}");
    let d = &diags[0];
    assert_eq!(d.code, "E0106");
    assert_eq!(d.primary.message, "this `{` is never closed");
    assert_eq!(line_of(text, d.primary.span.start), 4, "{d:?}");
    assert!(d.help.is_some());
}

#[test]
fn an_extra_brace_is_reported_at_itself() {
    let text = "record R {\n  x text\n}\n}\nrole z\n";
    let diags = parse_one(text);
    assert_eq!(diags.len(), 1, "{diags:?}");
    assert_eq!(diags[0].code, "E0106");
    assert_eq!(diags[0].primary.message, "this `}` closes nothing");
    assert_eq!(line_of(text, diags[0].primary.span.start), 4);
}

#[test]
fn braces_in_strings_comments_and_guards_do_not_count() {
    let text = "record R {\n  x text default \"{\" // {\n  /* } */\n}\nprocess p \"P\" for R {\n  state a initial\n  state b final\n  transition t a -> b when `record.x == \"}\"`\n";
    let diags = parse_one(text);
    assert_eq!(diags.len(), 1, "{diags:?}");
    assert_eq!(diags[0].code, "E0106");
    assert_eq!(line_of(text, diags[0].primary.span.start), 5);
}

#[test]
fn an_earlier_unrelated_error_is_reported_first() {
    let text = "record R {\n  x: text\n}\nprocess p \"P\" for R {\n  state a initial\n";
    let diags = parse_one(text);
    let codes: Vec<&str> = diags.iter().map(|d| d.code).collect();
    assert_eq!(codes, ["E0101", "E0106"], "{diags:?}");
}
