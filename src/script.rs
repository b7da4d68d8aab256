//! The sandboxed rhai engine for guard expressions, shared by the checker
//! and the runtime. Every limit is set here, in one place, and tested.

use rhai::{Dynamic, Engine, Scope, AST};
use serde_json::{Map, Value};

use crate::ir::{FieldType, Process};

/// Names a guard may read; everything else is an undeclared variable.
pub const GUARD_ROOTS: &[&str] = &["record", "actor", "instance"];
pub const ACTOR_PROPERTIES: &[&str] = &["id", "roles"];
/// Properties of `instance`, the same in guards and templates.
pub const INSTANCE_PROPERTIES: &[&str] = &[
    "id",
    "process",
    "state",
    "title",
    "url",
    "revision",
    "created_at",
];

/// Properties of `instance` that guards can read (templates see more:
/// `title` and `url` exist only once a notification is rendered).
pub const GUARD_INSTANCE_PROPERTIES: &[&str] =
    &["id", "process", "state", "revision", "created_at"];

pub const MAX_OPERATIONS: u64 = 10_000;
pub const MAX_CALL_LEVELS: usize = 8;
pub const MAX_EXPR_DEPTH: usize = 32;
pub const MAX_STRING_SIZE: usize = 4_096;
pub const MAX_ARRAY_SIZE: usize = 1_024;
pub const MAX_MAP_SIZE: usize = 256;
/// Guards longer than this are refused before rhai sees them.
pub const MAX_GUARD_BYTES: usize = 2_048;

/// A rhai engine with no I/O, no modules, no `eval`, and bounded work.
pub fn sandboxed_engine() -> Engine {
    let mut engine = Engine::new();
    engine
        .set_max_operations(MAX_OPERATIONS)
        .set_max_call_levels(MAX_CALL_LEVELS)
        .set_max_expr_depths(MAX_EXPR_DEPTH, MAX_EXPR_DEPTH)
        .set_max_string_size(MAX_STRING_SIZE)
        .set_max_array_size(MAX_ARRAY_SIZE)
        .set_max_map_size(MAX_MAP_SIZE)
        .set_max_functions(0)
        .set_max_modules(0)
        .set_allow_looping(false)
        .set_allow_shadowing(false)
        .set_strict_variables(false)
        .disable_symbol("eval")
        .on_print(|_| {})
        .on_debug(|_, _, _| {});
    engine.set_module_resolver(rhai::module_resolvers::DummyModuleResolver::new());
    engine
}

/// Compiles a guard as a single expression.
pub fn compile_guard(engine: &Engine, source: &str) -> Result<AST, rhai::ParseError> {
    engine.compile_expression(source)
}

/// What a guard sees of the instance (`instance.…`).
pub struct GuardInstance<'a> {
    pub id: i64,
    pub process: &'a str,
    pub state: &'a str,
    pub revision: i64,
    pub created_at: &'a str,
}

/// The record as guards read it. Set fields hold their stored value; an
/// unset field with a `default` reads as that default, an unset `list` or
/// `log` as `[]`, and any other unset field is absent, so it reads `()`.
/// The checker ([`crate::check::guard_types`]) types guards on exactly
/// these rules.
pub fn guard_record(process: &Process, record: &Map<String, Value>) -> Dynamic {
    let mut out = rhai::Map::new();
    for field in &process.record.fields {
        let value = match record.get(&field.name) {
            Some(v) if crate::runtime::values::is_set(record, &field.name) => Some(v.clone()),
            _ => match (&field.default, &field.ty) {
                (Some(d), ty) => {
                    let ctx = crate::runtime::values::EntryContext { at: "", actor: "" };
                    crate::runtime::values::check_value(ty, d, ctx).ok()
                }
                (None, FieldType::List(_) | FieldType::Log) => Some(Value::Array(Vec::new())),
                (None, _) => None,
            },
        };
        if let Some(v) = value {
            out.insert(
                field.name.as_str().into(),
                crate::runtime::values::to_dynamic(&v),
            );
        }
    }
    out.into()
}

/// Evaluates a guard over a record, an actor `(id, roles)` and an instance.
/// `Err` carries the reason a guard could not give `true` or `false`.
pub fn eval_guard(
    engine: &Engine,
    source: &str,
    process: &Process,
    record: &Map<String, Value>,
    actor: (&str, &[String]),
    instance: &GuardInstance<'_>,
) -> Result<bool, String> {
    if source.len() > MAX_GUARD_BYTES {
        return Err(format!(
            "the condition is longer than {MAX_GUARD_BYTES} bytes"
        ));
    }
    let ast = compile_guard(engine, source).map_err(|e| e.to_string())?;
    let mut actor_map = rhai::Map::new();
    actor_map.insert("id".into(), actor.0.to_string().into());
    actor_map.insert(
        "roles".into(),
        actor
            .1
            .iter()
            .map(|r| Dynamic::from(r.clone()))
            .collect::<rhai::Array>()
            .into(),
    );
    let mut inst = rhai::Map::new();
    inst.insert("id".into(), instance.id.into());
    inst.insert("process".into(), instance.process.to_string().into());
    inst.insert("state".into(), instance.state.to_string().into());
    inst.insert("revision".into(), instance.revision.into());
    inst.insert("created_at".into(), instance.created_at.to_string().into());
    let mut scope = Scope::new();
    scope.push_constant("record", guard_record(process, record));
    scope.push_constant("actor", actor_map);
    scope.push_constant("instance", inst);
    let out: Dynamic = engine
        .eval_ast_with_scope(&mut scope, &ast)
        .map_err(|e| e.to_string())?;
    out.as_bool()
        .map_err(|t| format!("it gave a `{t}`, not true or false"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rhai::Map;

    fn eval(src: &str) -> Result<Dynamic, Box<rhai::EvalAltResult>> {
        let engine = sandboxed_engine();
        let mut scope = Scope::new();
        scope.push("record", Map::new());
        engine.eval_expression_with_scope::<Dynamic>(&mut scope, src)
    }

    #[test]
    fn limits_stop_runaway_and_oversized_work() {
        // Too many operations.
        let engine = sandboxed_engine();
        let too_long = engine.eval::<Dynamic>("let x = 0; while true { x += 1; } x");
        assert!(too_long.is_err(), "loops are refused or bounded");
        // Strings cannot grow past the limit.
        let big = eval("\"a\".pad(100000, 'b')");
        assert!(big.is_err(), "oversized strings are refused");
        // Arrays cannot grow past the limit.
        let arr = eval("[1].pad(100000, 0)");
        assert!(arr.is_err(), "oversized arrays are refused");
    }

    #[test]
    fn guards_are_expressions_only() {
        let engine = sandboxed_engine();
        assert!(compile_guard(&engine, "record.major == true").is_ok());
        assert!(compile_guard(&engine, "let x = 1").is_err());
        assert!(compile_guard(&engine, "eval(\"1\")").is_err());
        assert!(compile_guard(&engine, "import \"x\" as y").is_err());
    }

    #[test]
    fn deep_nesting_is_refused_not_a_crash() {
        let engine = sandboxed_engine();
        let deep = format!("{}1{}", "(".repeat(500), ")".repeat(500));
        assert!(compile_guard(&engine, &deep).is_err());
    }
}
