//! Property: whatever sequence of starts, fires (accepted or refused) and
//! ticks (timers firing days later) runs against a database, every instance's stored state and record are
//! the fold of its events, its revision is its event count, refusals change
//! nothing, and the audit chain verifies. SQLite, few cases.

mod runtime_support;

use pdca::runtime::{Actor, Engine};
use proptest::prelude::*;
use runtime_support::{ticket_program, TestDb};
use serde_json::{json, Value};

const TRANSITIONS: &[&str] = &[
    "triage", "work", "escalate", "probe", "hold", "resume", "note", "finish", "expire", "bogus",
];
const LEVELS: &[&str] = &["low", "medium", "high"];

/// Mostly someone who may fire most transitions, sometimes not.
fn actor(k: usize) -> Actor {
    match k % 8 {
        0 => Actor::new("dana", &["service_desk"]),
        1 => Actor::new("rob", &["resolver"]),
        2 => Actor::new("mia", &["incident_manager"]),
        3 => Actor::new("guest", &[]),
        _ => Actor::new("pat", &["service_desk", "resolver", "incident_manager"]),
    }
}

/// Mostly patches that supply what transitions require, sometimes ones
/// that are refused or change what guards see.
fn patch(k: usize) -> Value {
    let full = json!({"category": "hardware", "hold_reason": "parts", "resolution": "fixed"});
    let with = |extra: Value| {
        let mut p = full.clone();
        if let (Value::Object(p), Value::Object(extra)) = (&mut p, extra) {
            p.extend(extra);
        }
        p
    };
    match k % 12 {
        0..=2 => full.clone(),
        3 => with(json!({"impact": "low", "notes": "impact lowered"})),
        4 => with(json!({"major": true})),
        5 => with(json!({"major": false, "notes": ["a", "b"], "tags": ["x"]})),
        6 => with(json!({"urgency": "high", "effort": 3})),
        7 => json!({}),
        8 => json!({"hold_reason": null}),
        9 => json!({"effort": "not a number"}),
        10 => json!({"summary": null}),
        _ => with(json!({"priority": "P1"})),
    }
}

#[derive(Debug, Clone)]
enum Op {
    Start {
        impact: usize,
        urgency: usize,
    },
    Fire {
        target: usize,
        /// An index, and whether it picks among the transitions a person
        /// can fire from the current state (else among all names).
        transition: (usize, bool),
        actor: usize,
        patch: usize,
        stale: bool,
    },
    /// A tick `days` days from now: the `expire` timer (3d) of instances
    /// still in `new` fires.
    Tick {
        days: i64,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        1 => (0..3usize, 0..3usize).prop_map(|(impact, urgency)| Op::Start { impact, urgency }),
        5 => (
            0..8usize,
            (0..16usize, proptest::bool::weighted(0.8)),
            0..8usize,
            0..12usize,
            proptest::bool::weighted(0.1),
        )
            .prop_map(|(target, transition, actor, patch, stale)| Op::Fire {
                target,
                transition,
                actor,
                patch,
                stale,
            }),
        1 => (0..5i64).prop_map(|days| Op::Tick { days }),
    ]
}

async fn run(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let db = TestDb::sqlite();
    let e = Engine::connect(&db.url)
        .await
        .map_err(|err| TestCaseError::fail(err.to_string()))?;
    e.deploy(&ticket_program())
        .await
        .map_err(|err| TestCaseError::fail(err.to_string()))?;
    let mut ids: Vec<i64> = Vec::new();
    let mut accepted = 0u64;
    for op in ops {
        match op {
            Op::Start { impact, urgency } => {
                let fields = json!({
                    "summary": "s",
                    "reported_by": "r",
                    "impact": LEVELS[impact],
                    "urgency": LEVELS[urgency],
                });
                let v = e
                    .start("ticket", &actor(0), &fields)
                    .await
                    .map_err(|err| TestCaseError::fail(err.to_string()))?;
                prop_assert_eq!(v.revision, 1);
                ids.push(v.id);
                accepted += 1;
            }
            Op::Fire {
                target,
                transition,
                actor: who,
                patch: p,
                stale,
            } => {
                let Some(&id) = ids.get(target % ids.len().max(1)) else {
                    continue;
                };
                let before = e
                    .show(id)
                    .await
                    .map_err(|err| TestCaseError::fail(err.to_string()))?;
                let expected = if stale {
                    Some(before.revision - 1)
                } else {
                    Some(before.revision)
                };
                let (index, among_next) = transition;
                let name = if among_next && !before.next.is_empty() {
                    before.next[index % before.next.len()].clone()
                } else {
                    TRANSITIONS[index % TRANSITIONS.len()].to_string()
                };
                let result = e.fire(id, &name, &actor(who), &patch(p), expected).await;
                let after = e
                    .show(id)
                    .await
                    .map_err(|err| TestCaseError::fail(err.to_string()))?;
                match result {
                    Ok(v) => {
                        prop_assert!(!stale);
                        prop_assert_eq!(v.revision, before.revision + 1);
                        prop_assert_eq!(&v, &after);
                        accepted += 1;
                    }
                    Err(err) => {
                        prop_assert!(err.is_refusal(), "{}", err);
                        prop_assert_eq!(&before, &after, "a refusal changed the instance");
                    }
                }
                let history = e
                    .history(id)
                    .await
                    .map_err(|err| TestCaseError::fail(err.to_string()))?;
                prop_assert_eq!(history.len() as i64, after.revision);
                prop_assert_eq!(
                    history.last().map(|h| h.to.clone()),
                    Some(after.state.clone())
                );
            }
            Op::Tick { days } => {
                let now = jiff::Timestamp::now()
                    .checked_add(jiff::SignedDuration::from_hours(24 * days))
                    .map_err(|err| TestCaseError::fail(err.to_string()))?;
                let report = e
                    .tick(now)
                    .await
                    .map_err(|err| TestCaseError::fail(err.to_string()))?;
                prop_assert!(report.failed.is_empty(), "{:?}", report.failed);
                for fired in &report.fired {
                    prop_assert_eq!(&fired.transition, "expire");
                    let after = e
                        .show(fired.instance)
                        .await
                        .map_err(|err| TestCaseError::fail(err.to_string()))?;
                    prop_assert_eq!(after.state, "expired");
                }
                accepted += report.fired.len() as u64;
            }
        }
    }
    let report = e
        .verify()
        .await
        .map_err(|err| TestCaseError::fail(err.to_string()))?;
    prop_assert!(report.ok, "{:?}", report.problems);
    prop_assert_eq!(report.instances, ids.len() as u64);
    prop_assert_eq!(report.events, accepted);
    e.store().close().await;
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]

    #[test]
    fn state_is_the_fold_of_events_and_the_chain_holds(
        first in (0..3usize, 0..3usize),
        ops in proptest::collection::vec(op(), 1..30),
    ) {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|err| TestCaseError::fail(err.to_string()))?;
        let mut all = vec![Op::Start { impact: first.0, urgency: first.1 }];
        all.extend(ops);
        rt.block_on(run(all))?;
    }
}
