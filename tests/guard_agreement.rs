//! The checker's guard typing agrees with the runtime: every guard that
//! passes `check` (in `processes/` and in the typed fixtures) evaluates to
//! `true` or `false` — never an error — over records holding every kind of
//! value the runtime stores for each field type, unset fields included,
//! for every state, and for actors with and without roles. The evaluation
//! goes through `pdca::script::eval_guard`, the function the runtime's
//! engine calls, so the binding tested is the one used.

use std::path::PathBuf;

use pdca::ir::{FieldType, Process, Program};
use pdca::runtime::values;
use pdca::script::{self, GuardInstance};
use serde_json::{json, Map, Value};

fn compile(paths: &[PathBuf]) -> Program {
    let inputs = pdca::load::collect(paths).expect("readable");
    let c = pdca::compile(inputs);
    let rendered = pdca::diag::render::human(&c.sources, &c.diagnostics, false);
    assert_eq!(c.errors(), 0, "{rendered}");
    c.program.expect("a program")
}

/// Values the runtime can store for a field of type `ty` (as normalized by
/// `check_value`).
fn samples(ty: &FieldType) -> Vec<Value> {
    match ty {
        FieldType::Text => vec![json!("x"), json!("vip"), json!("")],
        FieldType::Int => vec![json!(0), json!(7), json!(-3), json!(i64::MAX)],
        FieldType::Decimal => vec![json!(0), json!(10.5), json!(-2.25), json!(1e12)],
        FieldType::Bool => vec![json!(true), json!(false)],
        FieldType::Date => vec![json!("2026-01-31"), json!("2027-06-01")],
        FieldType::Datetime => vec![json!("2026-01-01T10:00:00Z")],
        FieldType::Duration => vec![json!("4 hours"), json!("5 business days")],
        FieldType::Level | FieldType::Priority | FieldType::Enum(_) => ty
            .values()
            .unwrap_or_default()
            .into_iter()
            .map(|v| json!(v))
            .collect(),
        FieldType::Ref(_) => vec![json!(1), json!(42)],
        FieldType::Log => vec![json!([{"at": "2026-01-01T00:00:00Z", "actor": "a", "text": "t"}])],
        FieldType::List(inner) => {
            let mut out = vec![json!([])];
            out.extend(samples(inner).into_iter().map(|v| json!([v])));
            out
        }
    }
}

/// A small deterministic generator (no shared state between tests).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) as usize) % n.max(1)
    }
}

/// Records with each field unset or holding one of its samples: first
/// every field unset, then every field at each sample index, then random
/// mixes.
fn records(process: &Process, random: usize) -> Vec<Map<String, Value>> {
    let fields: Vec<_> = process
        .record
        .fields
        .iter()
        .filter(|f| f.derived.is_none())
        .collect();
    let per: Vec<Vec<Value>> = fields.iter().map(|f| samples(&f.ty)).collect();
    let mut out = vec![Map::new()];
    let widest = per.iter().map(Vec::len).max().unwrap_or(0);
    for i in 0..widest {
        let mut r = Map::new();
        for (f, s) in fields.iter().zip(&per) {
            r.insert(f.name.clone(), s[i % s.len()].clone());
        }
        out.push(r);
    }
    let mut rng = Lcg(0x5eed);
    for _ in 0..random {
        let mut r = Map::new();
        for (f, s) in fields.iter().zip(&per) {
            let pick = rng.next(s.len() + 1);
            if pick < s.len() {
                r.insert(f.name.clone(), s[pick].clone());
            }
        }
        out.push(r);
    }
    for r in &mut out {
        values::recompute_derived(process, r);
    }
    out
}

/// Every guard of a process: transitions, escalation conditions, spawns.
fn guards(process: &Process) -> Vec<&str> {
    let mut out: Vec<&str> = process
        .transitions
        .iter()
        .filter_map(|t| t.guard.as_deref())
        .collect();
    out.extend(process.escalations.iter().map(|e| e.condition.as_str()));
    out.extend(process.spawns.iter().filter_map(|s| s.guard.as_deref()));
    out
}

/// Evaluates every guard of `program` over sample records, states and
/// actors; returns how many evaluations ran.
fn evaluate_all(program: &Program, random: usize) -> usize {
    let engine = script::sandboxed_engine();
    let mut runs = 0;
    for process in &program.processes {
        let guards = guards(process);
        if guards.is_empty() {
            continue;
        }
        let records = records(process, random);
        let mut roles: Vec<String> = process.roles.iter().map(|r| r.name.clone()).collect();
        roles.truncate(3);
        let actors: Vec<(&str, Vec<String>)> = vec![
            ("alice", roles.clone()),
            ("system:spawn", Vec::new()),
            ("vip", vec!["service_desk".to_string()]),
        ];
        for guard in guards {
            for (ri, record) in records.iter().enumerate() {
                for (si, state) in process.states.iter().enumerate() {
                    let (id, roles) = &actors[(ri + si) % actors.len()];
                    let inst = GuardInstance {
                        id: 1 + ri as i64,
                        process: &process.name,
                        state: &state.name,
                        revision: si as i64,
                        created_at: "2026-01-01T00:00:00Z",
                    };
                    let out =
                        script::eval_guard(&engine, guard, process, record, (id, roles), &inst);
                    assert!(
                        out.is_ok(),
                        "guard `{guard}` of `{}` failed at runtime on {record:?} in `{}`: {out:?}",
                        process.name,
                        state.name
                    );
                    runs += 1;
                }
            }
        }
    }
    runs
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn every_guard_in_processes_evaluates_to_a_boolean() {
    let program = compile(&[root().join("processes")]);
    let runs = evaluate_all(&program, 60);
    assert!(runs > 1_000, "only {runs} evaluations");
}

#[test]
fn typed_fixture_guards_evaluate_to_a_boolean() {
    let program = compile(&[root().join("tests/fixtures/ok_typed_guards.pdca")]);
    let runs = evaluate_all(&program, 200);
    assert!(runs > 1_000, "only {runs} evaluations");
}

/// What the checker now refuses is what the runtime silently got wrong:
/// each rejected guard is always false, or fails, on every sample record.
#[test]
fn rejected_guards_were_silently_wrong_at_runtime() {
    let fixtures = root().join("tests/fixtures");
    let cases = [
        ("E0411_level_compared_with_number.pdca", false),
        ("E0411_bool_compared_with_text.pdca", false),
        ("E0412_value_not_in_level.pdca", false),
        ("E0411_default_field_never_unset.pdca", false),
        ("E0413_optional_bool_in_guard.pdca", true),
    ];
    let engine = script::sandboxed_engine();
    for (file, may_fail) in cases {
        let path = fixtures.join(file);
        let inputs = pdca::load::collect(std::slice::from_ref(&path)).expect("readable");
        let c = pdca::compile(inputs);
        assert!(c.errors() > 0, "{file} must not check clean");
        // Evaluate the refused guard against the IR of the same file
        // without it (the checker gives no IR for a file with errors).
        let text = std::fs::read_to_string(&path).expect("fixture");
        let guard = text
            .lines()
            .find_map(|l| {
                l.split_once(" when ")
                    .map(|(_, g)| g.trim_end_matches(" {").to_string())
            })
            .expect("a guard");
        let clean = text.replace(&format!(" when {guard}"), " when true");
        let dir = tempfile::tempdir().expect("tempdir");
        let clean_path = dir.path().join("clean.pdca");
        std::fs::write(&clean_path, clean).expect("write");
        let program = compile(&[clean_path]);
        let process = &program.processes[0];
        let mut saw_unset_failure = false;
        for record in records(process, 50) {
            let inst = GuardInstance {
                id: 1,
                process: &process.name,
                state: &process.states[0].name,
                revision: 1,
                created_at: "2026-01-01T00:00:00Z",
            };
            match script::eval_guard(&engine, &guard, process, &record, ("a", &[]), &inst) {
                Ok(b) if !may_fail => assert!(!b, "`{guard}` of {file} held on {record:?}"),
                Ok(_) => {}
                Err(_) if may_fail => saw_unset_failure = true,
                Err(e) => panic!("`{guard}` of {file} failed: {e}"),
            }
        }
        assert_eq!(saw_unset_failure, may_fail, "{file}");
    }
}
