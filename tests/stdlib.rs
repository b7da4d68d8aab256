//! The stdlib compiles clean, and the IR hash behaves as the runtime needs.

use pdca::load::Input;

#[test]
fn stdlib_alone_is_clean() {
    let c = pdca::compile(vec![Input::from_text("empty.pdca", "role someone\n")]);
    let rendered = pdca::diag::render::human(&c.sources, &c.diagnostics, false);
    assert!(c.diagnostics.is_empty(), "{rendered}");
}

const DEF: &str = r#"use stdlib.roles.{service_desk}
record R { summary text required }
process p "P" for R {
  started by service_desk
  state open initial is recorded
  state done final is closed
  transition finish open -> done by service_desk
}
"#;

fn hash_of(text: &str) -> String {
    let c = pdca::compile(vec![Input::from_text("p.pdca", text)]);
    c.program.expect("compiles").processes[0].hash.clone()
}

#[test]
fn hash_ignores_layout_but_not_meaning() {
    let base = hash_of(DEF);
    assert_eq!(base.len(), 64);
    let reformatted = format!("// a comment\n\n{}", DEF.replace("  state", "      state"));
    assert_eq!(
        hash_of(&reformatted),
        base,
        "layout must not change the hash"
    );
    let changed = DEF.replace("by service_desk\n}", "by service_desk requires summary\n}");
    assert_ne!(
        hash_of(&changed),
        base,
        "a semantic change must change the hash"
    );
}

#[test]
fn ir_round_trips_through_json() {
    let c = pdca::compile(vec![Input::from_text("p.pdca", DEF)]);
    let program = c.program.expect("compiles");
    let json = serde_json::to_string(&program).unwrap();
    let back: pdca::ir::Program = serde_json::from_str(&json).unwrap();
    assert_eq!(back, program);
}
