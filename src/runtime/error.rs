//! Runtime errors: refusals (the operation was understood and refused; the
//! database is unchanged) and failures (the database could not be used).
//!
//! Messages follow the diagnostic style: lowercase, no trailing period,
//! the user's names in backticks, never a Rust type name.

use std::fmt;

use serde::Serialize;

/// Why one field of a record or patch is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemKind {
    /// The record type has no such field.
    Unknown,
    /// The value does not have the field's type.
    WrongType,
    /// The field is computed from other fields and cannot be set.
    Derived,
    /// A log is append-only: it cannot be cleared or replaced.
    AppendOnly,
    /// A `ref` names no instance of the referenced process.
    NoSuchInstance,
    /// The text holds a character that cannot be stored (NUL).
    InvalidText,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldProblem {
    pub field: String,
    pub kind: ProblemKind,
    pub message: String,
}

impl fmt::Display for FieldProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}`: {}", self.field, self.message)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum RuntimeError {
    // ---- refusals (exit 1) ----
    /// The process was never deployed to this database.
    NotDeployed {
        process: String,
        deployed: Vec<String>,
    },
    UnknownInstance {
        id: i64,
    },
    UnknownTransition {
        transition: String,
        state: String,
        allowed: Vec<String>,
    },
    NotAllowedFromState {
        transition: String,
        state: String,
        from: Vec<String>,
        allowed: Vec<String>,
    },
    /// A transition without `by` is fired by a timer, never by a person.
    AutomaticTransition {
        transition: String,
        after: Option<String>,
    },
    /// The actor holds none of the roles that may perform the action.
    RoleMissing {
        action: String,
        actor: String,
        actor_roles: Vec<String>,
        allowed: Vec<String>,
    },
    InvalidActor {
        reason: String,
    },
    InvalidFields {
        problems: Vec<FieldProblem>,
    },
    MissingFields {
        fields: Vec<String>,
        /// What needs them, e.g. "entering `classified`".
        needed_for: String,
    },
    GuardFalse {
        transition: String,
        guard: String,
    },
    GuardFailed {
        transition: String,
        guard: String,
        reason: String,
    },
    /// The process has no approval of that name.
    UnknownApproval {
        approval: String,
        process: String,
        known: Vec<String>,
    },
    /// The instance is not in the approval's state: nothing to decide.
    ApprovalNotOpen {
        approval: String,
        on: String,
        state: String,
    },
    /// The actor holds none of the approver roles.
    NotAnApprover {
        approval: String,
        actor: String,
        actor_roles: Vec<String>,
        approvers: Vec<String>,
    },
    /// `distinct from requester`: the requester may not decide.
    RequesterMayNotDecide {
        approval: String,
        actor: String,
    },
    /// `distinct from ROLE`: a holder of that role may not decide.
    ExcludedRole {
        approval: String,
        actor: String,
        role: String,
    },
    /// The actor already decided in this round.
    AlreadyDecided {
        approval: String,
        actor: String,
        decision: String,
        seq: i64,
    },
    /// Starting an instance the step spawns was refused: the whole step is.
    SpawnRefused {
        /// The spawning process and state.
        process: String,
        /// The spawning instance, unless the step was its start (then it
        /// does not exist either).
        instance: Option<i64>,
        state: String,
        /// The process that would have been spawned.
        spawned: String,
        reason: Box<RuntimeError>,
    },
    /// A spawn's `when` condition could not be evaluated: the step is refused.
    SpawnGuardFailed {
        process: String,
        state: String,
        spawned: String,
        guard: String,
        reason: String,
    },
    /// Spawned instances spawning in turn went deeper than the limit
    /// (definitions spawning each other in a cycle).
    SpawnTooDeep {
        /// The processes from the first spawner to the refused spawn.
        chain: Vec<String>,
        limit: usize,
    },
    /// An idempotency key sent again with a different request.
    IdempotencyKeyReused {
        key: String,
    },
    /// Optimistic concurrency: the instance changed since it was read.
    Conflict {
        id: i64,
        expected: i64,
        actual: Option<i64>,
    },

    // ---- failures (exit 2) ----
    UnsupportedUrl {
        url: String,
    },
    Unreachable {
        url: String,
        reason: String,
    },
    SchemaTooNew {
        found: i64,
        supported: i64,
    },
    Migration {
        reason: String,
    },
    Database {
        reason: String,
    },
    /// Stored data that pdca cannot read back (edited by hand, or damaged).
    Corrupt {
        what: String,
        reason: String,
    },
}

impl RuntimeError {
    /// A refusal: the request was understood and refused, nothing changed.
    /// Everything else is a failure to use the database.
    pub fn is_refusal(&self) -> bool {
        !matches!(
            self,
            RuntimeError::UnsupportedUrl { .. }
                | RuntimeError::Unreachable { .. }
                | RuntimeError::SchemaTooNew { .. }
                | RuntimeError::Migration { .. }
                | RuntimeError::Database { .. }
                | RuntimeError::Corrupt { .. }
        )
    }

    /// A stable machine-readable name of the error kind.
    pub fn code(&self) -> &'static str {
        match self {
            RuntimeError::NotDeployed { .. } => "not_deployed",
            RuntimeError::UnknownInstance { .. } => "unknown_instance",
            RuntimeError::UnknownTransition { .. } => "unknown_transition",
            RuntimeError::NotAllowedFromState { .. } => "not_allowed_from_state",
            RuntimeError::AutomaticTransition { .. } => "automatic_transition",
            RuntimeError::RoleMissing { .. } => "role_missing",
            RuntimeError::InvalidActor { .. } => "invalid_actor",
            RuntimeError::InvalidFields { .. } => "invalid_fields",
            RuntimeError::MissingFields { .. } => "missing_fields",
            RuntimeError::GuardFalse { .. } => "guard_false",
            RuntimeError::GuardFailed { .. } => "guard_failed",
            RuntimeError::UnknownApproval { .. } => "unknown_approval",
            RuntimeError::ApprovalNotOpen { .. } => "approval_not_open",
            RuntimeError::NotAnApprover { .. } => "not_an_approver",
            RuntimeError::RequesterMayNotDecide { .. } => "requester_may_not_decide",
            RuntimeError::ExcludedRole { .. } => "excluded_role",
            RuntimeError::AlreadyDecided { .. } => "already_decided",
            RuntimeError::SpawnRefused { .. } => "spawn_refused",
            RuntimeError::SpawnGuardFailed { .. } => "spawn_guard_failed",
            RuntimeError::SpawnTooDeep { .. } => "spawn_too_deep",
            RuntimeError::IdempotencyKeyReused { .. } => "idempotency_key_reused",
            RuntimeError::Conflict { .. } => "conflict",
            RuntimeError::UnsupportedUrl { .. } => "unsupported_url",
            RuntimeError::Unreachable { .. } => "unreachable",
            RuntimeError::SchemaTooNew { .. } => "schema_too_new",
            RuntimeError::Migration { .. } => "migration",
            RuntimeError::Database { .. } => "database",
            RuntimeError::Corrupt { .. } => "corrupt",
        }
    }

    /// A hint on how to proceed, when there is one.
    pub fn help(&self) -> Option<String> {
        match self {
            RuntimeError::NotDeployed { .. } => {
                Some("run `pdca deploy` to store the definitions in this database".into())
            }
            RuntimeError::IdempotencyKeyReused { .. } => Some(
                "send a new `Idempotency-Key` for a different request; repeat a key only to retry the same request".into(),
            ),
            RuntimeError::Conflict { id, .. } => Some(format!(
                "reload the instance (`pdca instance show {id}`) and try again"
            )),
            RuntimeError::SpawnRefused { reason, .. } => reason.help(),
            RuntimeError::SpawnTooDeep { .. } => Some(
                "the definitions spawn each other in a cycle: give one `spawn` a `when` condition that stops it, e.g. `when record.LINK == ()`".into(),
            ),
            RuntimeError::SchemaTooNew { .. } => {
                Some("use a pdca release at least as new as the one that wrote the database".into())
            }
            RuntimeError::UnsupportedUrl { .. } => Some(
                "write `sqlite://FILE` (created on first use) or `postgres://USER@HOST/DB`".into(),
            ),
            _ => None,
        }
    }
}

fn list(names: &[String]) -> String {
    if names.is_empty() {
        "none".into()
    } else {
        names
            .iter()
            .map(|n| format!("`{n}`"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl fmt::Display for RuntimeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RuntimeError::NotDeployed { process, deployed } => {
                write!(f, "process `{process}` is not deployed in this database")?;
                if !deployed.is_empty() {
                    if let Some(s) =
                        crate::check::resolve::suggest(process, deployed.iter().map(String::as_str))
                    {
                        write!(f, "; did you mean `{s}`?")?;
                    }
                }
                Ok(())
            }
            RuntimeError::UnknownInstance { id } => write!(f, "no instance with id {id}"),
            RuntimeError::UnknownTransition {
                transition,
                state,
                allowed,
            } => write!(
                f,
                "the process has no transition `{transition}`; from `{state}` the instance can take: {}",
                list(allowed)
            ),
            RuntimeError::NotAllowedFromState {
                transition,
                state,
                from,
                allowed,
            } => write!(
                f,
                "transition `{transition}` is not allowed from state `{state}` (it leaves {}); from `{state}` the instance can take: {}",
                list(from),
                list(allowed)
            ),
            RuntimeError::AutomaticTransition { transition, after } => match after {
                Some(after) => write!(
                    f,
                    "transition `{transition}` is taken by a timer (after {after}), not by a person"
                ),
                None => write!(
                    f,
                    "transition `{transition}` is taken automatically, not by a person"
                ),
            },
            RuntimeError::RoleMissing {
                action,
                actor,
                actor_roles,
                allowed,
            } => write!(
                f,
                "`{actor}` (roles: {}) may not {action}: it needs one of the roles {}",
                list(actor_roles),
                list(allowed)
            ),
            RuntimeError::InvalidActor { reason } => write!(f, "invalid actor: {reason}"),
            RuntimeError::InvalidFields { problems } => {
                write!(f, "invalid record: ")?;
                for (i, p) in problems.iter().enumerate() {
                    if i > 0 {
                        write!(f, "; ")?;
                    }
                    write!(f, "{p}")?;
                }
                Ok(())
            }
            RuntimeError::MissingFields { fields, needed_for } => write!(
                f,
                "missing required field{} {} for {needed_for}",
                if fields.len() == 1 { "" } else { "s" },
                list(fields)
            ),
            RuntimeError::GuardFalse { transition, guard } => write!(
                f,
                "transition `{transition}` is not possible now: its condition `{guard}` is false"
            ),
            RuntimeError::GuardFailed {
                transition,
                guard,
                reason,
            } => write!(
                f,
                "transition `{transition}` is refused: its condition `{guard}` could not be evaluated ({reason})"
            ),
            RuntimeError::UnknownApproval {
                approval,
                process,
                known,
            } => write!(
                f,
                "process `{process}` has no approval `{approval}`; its approvals: {}",
                list(known)
            ),
            RuntimeError::ApprovalNotOpen {
                approval,
                on,
                state,
            } => write!(
                f,
                "approval `{approval}` is not open: it is decided in state `{on}` and the instance is in `{state}`"
            ),
            RuntimeError::NotAnApprover {
                approval,
                actor,
                actor_roles,
                approvers,
            } => write!(
                f,
                "`{actor}` (roles: {}) may not decide `{approval}`: it needs one of the roles {}",
                list(actor_roles),
                list(approvers)
            ),
            RuntimeError::RequesterMayNotDecide { approval, actor } => write!(
                f,
                "`{actor}` requested `{approval}` and may not decide it (distinct from requester)"
            ),
            RuntimeError::ExcludedRole {
                approval,
                actor,
                role,
            } => write!(
                f,
                "`{actor}` holds `{role}` and may not decide `{approval}` (distinct from `{role}`)"
            ),
            RuntimeError::AlreadyDecided {
                approval,
                actor,
                decision,
                seq,
            } => write!(
                f,
                "`{actor}` already decided `{approval}` in this round ({decision}, event seq {seq})"
            ),
            RuntimeError::SpawnRefused {
                process,
                instance,
                state,
                spawned,
                reason,
            } => {
                match instance {
                    Some(id) => write!(f, "`{process}` {id} entering `{state}`")?,
                    None => write!(f, "a new `{process}` entering `{state}`")?,
                }
                write!(f, " spawns a `{spawned}`, which is refused: {reason}")
            }
            RuntimeError::SpawnGuardFailed {
                process,
                state,
                spawned,
                guard,
                reason,
            } => write!(
                f,
                "the condition `{guard}` of `spawn {spawned} on enter {state}` in `{process}` could not be evaluated ({reason}); the step is refused"
            ),
            RuntimeError::SpawnTooDeep { chain, limit } => write!(
                f,
                "spawning stopped after {limit} spawns in one step: {}",
                chain
                    .iter()
                    .map(|p| format!("`{p}`"))
                    .collect::<Vec<_>>()
                    .join(" → ")
            ),
            RuntimeError::IdempotencyKeyReused { key } => write!(
                f,
                "the idempotency key `{key}` was used for a different request"
            ),
            RuntimeError::Conflict {
                id,
                expected,
                actual,
            } => match actual {
                Some(actual) => write!(
                    f,
                    "instance {id} was changed by someone else: expected revision {expected}, it is at revision {actual}"
                ),
                None => write!(
                    f,
                    "instance {id} was changed by someone else while this operation ran (expected revision {expected})"
                ),
            },
            RuntimeError::UnsupportedUrl { url } => {
                write!(f, "unsupported database url `{url}`")
            }
            RuntimeError::Unreachable { url, reason } => {
                write!(f, "cannot connect to the database `{url}`: {reason}")
            }
            RuntimeError::SchemaTooNew { found, supported } => write!(
                f,
                "the database was written by a newer pdca: its schema version is {found}, this pdca supports up to version {supported}"
            ),
            RuntimeError::Migration { reason } => {
                write!(f, "cannot bring the database schema up to date: {reason}")
            }
            RuntimeError::Database { reason } => write!(f, "database error: {reason}"),
            RuntimeError::Corrupt { what, reason } => {
                write!(f, "stored {what} cannot be read: {reason}")
            }
        }
    }
}

impl std::error::Error for RuntimeError {}

impl From<sqlx::Error> for RuntimeError {
    fn from(e: sqlx::Error) -> Self {
        RuntimeError::Database {
            reason: e.to_string(),
        }
    }
}
