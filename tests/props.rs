//! Property tests: the parser and checker never panic, whatever the input.

use pdca::load::Input;
use proptest::prelude::*;

const SEED: &str = include_str!("../stdlib/priority.pdca");

const VALID: &str = r#"use stdlib.roles.{service_desk, resolver, change_manager, cab}
use stdlib.priority.{impact_urgency}
use stdlib.calendars.{business_hours}
use stdlib.templates.{sla_breach}
record Incident {
  summary text required
  impact level required
  urgency level required
  priority priority = impact_urgency(impact, urgency)
  resolution text required at resolved
}
process incident "Incident" for Incident {
  owner resolver
  started by service_desk
  calendar business_hours
  state logged initial is recorded
  state classified is classified
  state approval is approval
  state resolved is resolved
  state closed final is closed
  transition classify logged -> classified by service_desk
  transition ask classified -> approval by resolver requires resolution when record.priority == "P1"
  transition resolve classified -> resolved by resolver
  transition close resolved -> closed after 5 business days
  approval ok on approval {
    approvers change_manager
    quorum any
    distinct from requester
    approved -> resolved
    rejected -> classified
    timeout 2 business days escalate to change_manager
  }
  sla fix "Fix" {
    from logged until resolved
    target by priority { P1 4h, P2 8h, P3 3d, P4 5d }
    warn at 75% notify resolver
    breach escalate to resolver template sla_breach
  }
}
"#;

/// Words of the language, to build inputs that get past the first token.
const WORDS: &[&str] = &[
    "process",
    "record",
    "state",
    "transition",
    "initial",
    "final",
    "is",
    "by",
    "->",
    "{",
    "}",
    "(",
    ")",
    ",",
    "approval",
    "on",
    "approvers",
    "quorum",
    "sla",
    "from",
    "until",
    "pause",
    "in",
    "target",
    "warn",
    "at",
    "75%",
    "4h",
    "5 business days",
    "when",
    "record.x",
    "\"s\"",
    "use",
    "stdlib",
    ".",
    "roles",
    "calendar",
    "zone",
    "hours",
    "mon-fri",
    "09:00-17:00",
    "template",
    "body",
    "\"{{x}}\"",
    "matrix",
    "level",
    "priority",
    "enum",
    "ref",
    "list",
    "of",
    "required",
    "default",
    "=",
    "incident",
    "x",
    "y",
    "\n",
    "`",
    "//",
    "/*",
    "*/",
    "spawn",
    "escalation",
    "notify",
    "document",
    "satisfies",
    "review",
    "every",
    "6 months",
    "0",
    "-",
];

fn compile_text(text: &str) {
    let c = pdca::compile(vec![Input::from_text("prop.pdca", text)]);
    // Rendering must not panic either.
    let _ = pdca::diag::render::human(&c.sources, &c.diagnostics, false);
    let _ = pdca::diag::render::json_lines(&c.sources, &c.diagnostics);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,400}") {
        compile_text(&text);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let c = pdca::compile(vec![Input::from_bytes("b.pdca", bytes)]);
        let _ = pdca::diag::render::human(&c.sources, &c.diagnostics, false);
    }

    #[test]
    fn token_soup_never_panics(words in proptest::collection::vec(proptest::sample::select(WORDS), 0..120)) {
        compile_text(&words.join(" "));
    }

    #[test]
    fn mutated_valid_definition_never_panics(cut in 0usize..VALID.len(), len in 0usize..40, insert in proptest::sample::select(WORDS)) {
        let mut text = VALID.to_string();
        let start = (0..=cut).rev().find(|i| text.is_char_boundary(*i)).unwrap_or(0);
        let end = (start + len).min(text.len());
        let end = (end..=text.len()).find(|i| text.is_char_boundary(*i)).unwrap_or(text.len());
        text.replace_range(start..end, insert);
        compile_text(&text);
    }

    #[test]
    fn line_deletions_of_stdlib_never_panic(skip in proptest::collection::vec(any::<bool>(), 20)) {
        let text: String = SEED.lines().zip(skip.iter().cycle()).filter(|(_, s)| !**s).map(|(l, _)| format!("{l}\n")).collect();
        compile_text(&text);
    }
}

#[test]
fn the_seed_definition_is_clean() {
    let c = pdca::compile(vec![Input::from_text("valid.pdca", VALID)]);
    let rendered = pdca::diag::render::human(&c.sources, &c.diagnostics, false);
    assert!(c.diagnostics.is_empty(), "{rendered}");
    let program = c.program.expect("compiles");
    assert_eq!(program.processes.len(), 1);
}

#[test]
fn deeply_nested_guard_is_a_diagnostic() {
    let guard = format!("{}1{}", "(".repeat(1000), ")".repeat(1000));
    let text = VALID.replace("record.priority == \"P1\"", &format!("`{guard}`"));
    let c = pdca::compile(vec![Input::from_text("deep.pdca", &text)]);
    assert!(c.diagnostics.iter().any(|d| d.code == "E0403"));
}
