//! The compiled model: what coverage and the runtime consume.
//!
//! Each process is self-contained (its record type, roles, calendars and
//! templates are copied in) so that the runtime can store one process
//! definition as one JSON document. `Process::hash` is a SHA-256 over the
//! definition without its source locations, so reformatting or moving a
//! definition does not create a new version but any semantic change does.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Version of the IR layout; part of every hash so that a layout change
/// never collides with an older deployment.
pub const IR_VERSION: u32 = 1;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Program {
    pub ir_version: u32,
    pub processes: Vec<Process>,
    pub documents: Vec<Document>,
    pub roles: Vec<Role>,
    /// Clause catalogs (from the stdlib) that coverage is measured against.
    pub standards: Vec<Standard>,
}

/// A standard's clauses and the obligations that decide each one.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Standard {
    pub id: String,
    pub title: Option<String>,
    pub clauses: Vec<Clause>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Clause {
    pub id: String,
    pub title: String,
    pub obligations: Vec<Obligation>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Obligation {
    pub id: String,
    pub text: String,
    /// Met only by a document that `attests` it.
    pub attested: bool,
    pub predicates: Vec<Predicate>,
}

/// One condition over the definitions that claim a clause.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Predicate {
    State {
        tag: String,
    },
    Transition {
        from_tag: String,
        to_tag: String,
    },
    Field {
        names: Vec<String>,
        derived: bool,
    },
    FieldOfType {
        ty: String,
    },
    Role {
        role: String,
    },
    Owner,
    Approval {
        before_tag: Option<String>,
    },
    Sla {
        until_tag: Option<String>,
    },
    Escalation {
        to: Option<String>,
    },
    Notification {
        to: Option<String>,
    },
    /// Runs at planned intervals, at most `max` apart.
    Schedule {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max: Option<Duration>,
    },
    /// A controlled document, reviewed at most `max_review` apart.
    Document {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_review: Option<Duration>,
    },
    Link {
        clause: String,
    },
    /// Another process implementing `clause` links (spawn or ref) to the
    /// claiming process.
    LinkFrom {
        clause: String,
    },
}

/// Where a construct was written: evidence for auditors and coverage reports.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, Default)]
pub struct Origin {
    pub file: String,
    pub line: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "kind", content = "of", rename_all = "snake_case")]
pub enum FieldType {
    Text,
    Int,
    Decimal,
    Bool,
    Date,
    Datetime,
    Duration,
    Level,
    Priority,
    Log,
    Enum(Vec<String>),
    Ref(String),
    List(Box<FieldType>),
}

pub const LEVELS: &[&str] = &["low", "medium", "high"];
pub const PRIORITIES: &[&str] = &["P1", "P2", "P3", "P4"];

impl FieldType {
    /// The built-in type with this name.
    pub fn builtin(name: &str) -> Option<FieldType> {
        Some(match name {
            "text" => FieldType::Text,
            "int" => FieldType::Int,
            "decimal" => FieldType::Decimal,
            "bool" => FieldType::Bool,
            "date" => FieldType::Date,
            "datetime" => FieldType::Datetime,
            "duration" => FieldType::Duration,
            "level" => FieldType::Level,
            "priority" => FieldType::Priority,
            "log" => FieldType::Log,
            _ => return None,
        })
    }

    pub const BUILTIN_NAMES: &'static [&'static str] = &[
        "text", "int", "decimal", "bool", "date", "datetime", "duration", "level", "priority",
        "log",
    ];

    /// The values of an enumerated type (level, priority, enum).
    pub fn values(&self) -> Option<Vec<&str>> {
        match self {
            FieldType::Level => Some(LEVELS.to_vec()),
            FieldType::Priority => Some(PRIORITIES.to_vec()),
            FieldType::Enum(v) => Some(v.iter().map(String::as_str).collect()),
            _ => None,
        }
    }

    /// How the type is written in pdca, for messages.
    pub fn describe(&self) -> String {
        match self {
            FieldType::Text => "text".into(),
            FieldType::Int => "int".into(),
            FieldType::Decimal => "decimal".into(),
            FieldType::Bool => "bool".into(),
            FieldType::Date => "date".into(),
            FieldType::Datetime => "datetime".into(),
            FieldType::Duration => "duration".into(),
            FieldType::Level => "level".into(),
            FieldType::Priority => "priority".into(),
            FieldType::Log => "log".into(),
            FieldType::Enum(v) => format!("enum({})", v.join(", ")),
            FieldType::Ref(p) => format!("ref {p}"),
            FieldType::List(t) => format!("list of {}", t.describe()),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Field {
    pub name: String,
    pub origin: Origin,
    #[serde(rename = "type")]
    pub ty: FieldType,
    pub required: bool,
    pub required_at: Vec<String>,
    pub default: Option<serde_json::Value>,
    pub derived: Option<Derivation>,
}

/// `priority = impact_urgency(impact, urgency)`: a lookup table over enum fields.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Derivation {
    pub matrix: String,
    pub args: Vec<String>,
    /// Rows of the matrix: input values (in `args` order) -> output value.
    pub table: Vec<(Vec<String>, String)>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Record {
    pub name: String,
    pub title: Option<String>,
    pub fields: Vec<Field>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Role {
    pub name: String,
    pub title: Option<String>,
    pub members: Option<u32>,
}

/// A duration as written. `business` durations are counted in the working
/// time of a calendar: `3 business days` is three working days, not 72 hours.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct Duration {
    pub amount: u64,
    pub unit: DurationUnit,
    pub business: bool,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum DurationUnit {
    Minutes,
    Hours,
    Days,
    Weeks,
    Months,
    Years,
}

impl Duration {
    /// Length in minutes when the unit has a fixed length (not months or years).
    pub fn fixed_minutes(&self) -> Option<u64> {
        let per = match self.unit {
            DurationUnit::Minutes => 1,
            DurationUnit::Hours => 60,
            DurationUnit::Days => 1_440,
            DurationUnit::Weeks => 10_080,
            DurationUnit::Months | DurationUnit::Years => return None,
        };
        self.amount.checked_mul(per)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Calendar {
    pub name: String,
    pub zone: String,
    /// Working intervals per weekday (0 = Monday), minutes since midnight.
    pub week: Vec<Vec<(u16, u16)>>,
    /// Holidays as `YYYY-MM-DD`.
    pub holidays: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Template {
    pub name: String,
    pub subject: String,
    pub body: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct State {
    pub name: String,
    pub title: Option<String>,
    pub initial: bool,
    #[serde(rename = "final")]
    pub is_final: bool,
    pub tags: Vec<String>,
    pub origin: Origin,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Transition {
    pub name: String,
    pub from: Vec<String>,
    pub to: String,
    pub by: Vec<String>,
    pub requires: Vec<String>,
    pub guard: Option<String>,
    pub after: Option<Duration>,
    /// A declared standard path back into an approved state; absent from
    /// the JSON (and so from the hash) when false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub preapproved: bool,
    pub origin: Origin,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum Quorum {
    Count(u32),
    Percent(f64),
    All,
    Any,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Approval {
    pub name: String,
    pub title: Option<String>,
    pub state: String,
    pub approvers: Vec<String>,
    pub quorum: Quorum,
    pub distinct_from_requester: bool,
    pub distinct_from_roles: Vec<String>,
    pub approved: String,
    pub rejected: String,
    pub timeout: Option<Duration>,
    pub timeout_escalate_to: Vec<String>,
    pub timeout_template: Option<String>,
    pub origin: Origin,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Warn {
    pub percent: f64,
    pub notify: Vec<String>,
    pub template: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Target {
    Fixed {
        duration: Duration,
    },
    ByField {
        field: String,
        targets: Vec<(String, Duration)>,
    },
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Sla {
    pub name: String,
    pub title: Option<String>,
    pub from: Vec<String>,
    pub until: Vec<String>,
    pub pause: Vec<String>,
    pub calendar: Option<String>,
    pub target: Target,
    pub warns: Vec<Warn>,
    pub breach_escalate_to: Vec<String>,
    pub breach_template: Option<String>,
    pub origin: Origin,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Notify {
    pub roles: Vec<String>,
    pub template: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Escalation {
    pub name: String,
    pub title: Option<String>,
    pub condition: String,
    pub notify: Vec<Notify>,
    pub assign: Option<String>,
    pub origin: Origin,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct OnEnter {
    pub states: Vec<String>,
    pub notify: Vec<String>,
    pub template: Option<String>,
    pub origin: Origin,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Spawn {
    pub process: String,
    pub states: Vec<String>,
    pub link: Option<String>,
    pub guard: Option<String>,
    pub origin: Origin,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Claim {
    pub standard: String,
    pub clauses: Vec<String>,
    pub origin: Origin,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Process {
    pub name: String,
    pub title: Option<String>,
    pub implements: Vec<Claim>,
    pub owner: Option<String>,
    pub started_by: Vec<String>,
    pub record: Record,
    pub states: Vec<State>,
    pub transitions: Vec<Transition>,
    pub approvals: Vec<Approval>,
    pub slas: Vec<Sla>,
    pub escalations: Vec<Escalation>,
    pub on_enter: Vec<OnEnter>,
    pub spawns: Vec<Spawn>,
    pub schedule: Option<Duration>,
    /// Default calendar for business durations in timers and timeouts.
    pub calendar: Option<String>,
    pub roles: Vec<Role>,
    pub calendars: Vec<Calendar>,
    pub templates: Vec<Template>,
    pub origin: Origin,
    /// SHA-256 (hex) of the definition without origins; filled by [`Process::seal`].
    pub hash: String,
}

impl Process {
    /// Computes and stores the content hash: the JSON of the definition with
    /// every origin blanked, streamed into SHA-256.
    pub fn seal(&mut self) {
        self.hash = String::new();
        let saved: Vec<Origin> = self.origins_mut().map(std::mem::take).collect();
        let mut hasher = HashWriter(Sha256::new());
        hasher.0.update(IR_VERSION.to_le_bytes());
        // Writing into a hasher cannot fail.
        let _ = serde_json::to_writer(&mut hasher, &*self);
        for (origin, saved) in self.origins_mut().zip(saved) {
            *origin = saved;
        }
        self.hash = hex::encode(hasher.0.finalize());
    }

    /// Every source location in the definition.
    fn origins_mut(&mut self) -> impl Iterator<Item = &mut Origin> {
        std::iter::once(&mut self.origin)
            .chain(self.record.fields.iter_mut().map(|f| &mut f.origin))
            .chain(self.implements.iter_mut().map(|c| &mut c.origin))
            .chain(self.states.iter_mut().map(|s| &mut s.origin))
            .chain(self.transitions.iter_mut().map(|t| &mut t.origin))
            .chain(self.approvals.iter_mut().map(|a| &mut a.origin))
            .chain(self.slas.iter_mut().map(|s| &mut s.origin))
            .chain(self.escalations.iter_mut().map(|e| &mut e.origin))
            .chain(self.on_enter.iter_mut().map(|o| &mut o.origin))
            .chain(self.spawns.iter_mut().map(|s| &mut s.origin))
    }

    pub fn state(&self, name: &str) -> Option<&State> {
        self.states.iter().find(|s| s.name == name)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Document {
    pub name: String,
    pub title: Option<String>,
    pub satisfies: Vec<Claim>,
    pub attests: Vec<String>,
    pub owner: Option<String>,
    pub approved_by: Vec<String>,
    pub review: Option<Duration>,
    pub origin: Origin,
}

/// Lets serde_json stream into a SHA-256 hasher.
struct HashWriter(Sha256);

impl std::io::Write for HashWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
