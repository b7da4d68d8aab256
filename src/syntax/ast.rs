//! The syntax tree of one `.pdca` file, exactly as written (names unresolved).

use super::span::{FileId, Ident, Span};

#[derive(Debug, Clone, Default)]
pub struct File {
    pub id: Option<FileId>,
    pub uses: Vec<Use>,
    pub roles: Vec<Role>,
    pub tags: Vec<Tag>,
    pub calendars: Vec<Calendar>,
    pub matrices: Vec<Matrix>,
    pub templates: Vec<Template>,
    pub records: Vec<Record>,
    pub processes: Vec<Process>,
    pub documents: Vec<Document>,
    pub standards: Vec<Standard>,
}

impl File {
    pub fn is_empty(&self) -> bool {
        self.uses.is_empty()
            && self.roles.is_empty()
            && self.tags.is_empty()
            && self.calendars.is_empty()
            && self.matrices.is_empty()
            && self.templates.is_empty()
            && self.records.is_empty()
            && self.processes.is_empty()
            && self.documents.is_empty()
            && self.standards.is_empty()
    }
}

#[derive(Debug, Clone)]
pub enum Use {
    /// `use stdlib.module[.name | .{names} | .*]`
    Stdlib {
        module: Ident,
        names: UseNames,
        span: Span,
    },
    /// `use "relative/path.pdca"`
    File { path: String, span: Span },
}

#[derive(Debug, Clone)]
pub enum UseNames {
    All,
    Some(Vec<Ident>),
}

#[derive(Debug, Clone)]
pub struct Role {
    pub name: Ident,
    pub title: Option<String>,
    /// How many people hold the role, when the organization fixes it (a board).
    pub members: Option<(u32, Span)>,
}

#[derive(Debug, Clone)]
pub struct Tag {
    pub name: Ident,
    pub description: Option<String>,
    /// Tags that contradict this one on the same state (E0206).
    pub excludes: Vec<Ident>,
}

#[derive(Debug, Clone)]
pub struct Calendar {
    pub name: Ident,
    pub title: Option<String>,
    pub zone: Option<(String, Span)>,
    pub hours: Vec<Hours>,
    pub holidays: Vec<Holiday>,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct Hours {
    /// Weekday ranges, 0 = Monday.
    pub days: Vec<(u8, u8, Span)>,
    /// Minutes since midnight, `start..end`.
    pub times: Vec<(u16, u16, Span)>,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct Holiday {
    /// `YYYY-MM-DD` as written; validated by the checker.
    pub date: (i16, i8, i8),
    pub name: Option<String>,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct Matrix {
    pub name: Ident,
    pub params: Vec<(Ident, TypeExpr)>,
    pub result: TypeExpr,
    pub rows: Vec<MatrixRow>,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct MatrixRow {
    pub inputs: Vec<Ident>,
    pub output: Ident,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct Template {
    pub name: Ident,
    pub subject: Option<TemplateText>,
    pub body: Option<TemplateText>,
}

#[derive(Debug, Clone)]
pub struct TemplateText {
    /// The text with escapes replaced (`\n` is a line break).
    pub text: String,
    /// The text as written between the quotes.
    pub raw: String,
    /// Span of the string contents (inside the quotes).
    pub span: Span,
}

impl TemplateText {
    /// The span in the file of `len` bytes at `offset` in the unescaped text.
    pub fn span_of(&self, offset: usize, len: usize) -> Span {
        let start = self.raw_offset(offset);
        let end = self.raw_offset(offset + len).max(start);
        Span::new(
            self.span.file,
            self.span.start as usize + start,
            self.span.start as usize + end,
        )
    }

    /// Maps an offset in the unescaped text to an offset in the raw text.
    fn raw_offset(&self, offset: usize) -> usize {
        let mut unescaped = 0;
        let mut chars = self.raw.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            if unescaped >= offset {
                return i;
            }
            if c == '\\' {
                if let Some((_, e)) = chars.next() {
                    unescaped += match e {
                        'n' | 't' | '"' | '\\' => 1,
                        other => other.len_utf8(),
                    };
                }
            } else {
                unescaped += c.len_utf8();
            }
        }
        self.raw.len()
    }
}

#[derive(Debug, Clone)]
pub struct Record {
    pub name: Ident,
    pub title: Option<String>,
    pub fields: Vec<Field>,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct Field {
    pub name: Ident,
    pub ty: TypeExpr,
    pub required: Option<Span>,
    pub required_at: Vec<Ident>,
    pub default: Option<Literal>,
    pub derived: Option<Derivation>,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub enum TypeExpr {
    Named(Ident),
    Enum(Vec<Ident>, Span),
    Ref(Ident, Span),
    List(Box<TypeExpr>, Span),
}

impl TypeExpr {
    pub fn span(&self) -> Span {
        match self {
            TypeExpr::Named(i) => i.span,
            TypeExpr::Enum(_, s) | TypeExpr::Ref(_, s) | TypeExpr::List(_, s) => *s,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Derivation {
    pub function: Ident,
    pub args: Vec<Ident>,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub enum LiteralKind {
    String(String),
    Number(String),
    Duration(Duration),
    Date(String),
    Ident(String),
}

#[derive(Debug, Clone)]
pub struct Literal {
    pub kind: LiteralKind,
    pub span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DurationUnit {
    Minutes,
    Hours,
    Days,
    Weeks,
    Months,
    Years,
}

#[derive(Debug, Clone, Copy)]
pub struct Duration {
    pub amount: u64,
    pub unit: DurationUnit,
    pub business: bool,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct Process {
    pub name: Ident,
    pub title: Option<String>,
    pub record: Ident,
    pub implements: Vec<Claim>,
    pub owner: Option<Ident>,
    pub started_by: Vec<Ident>,
    pub states: Vec<State>,
    pub transitions: Vec<Transition>,
    pub approvals: Vec<Approval>,
    pub slas: Vec<Sla>,
    pub escalations: Vec<Escalation>,
    pub on_enter: Vec<OnEnter>,
    pub spawns: Vec<Spawn>,
    pub schedule: Option<Duration>,
    /// Calendar for `business` durations of timers and approval timeouts.
    pub calendar: Option<Ident>,
    pub span: Span,
}

/// `implements iso20000-1:2018 { 8.6.1 }` or `satisfies ...`
#[derive(Debug, Clone)]
pub struct Claim {
    pub standard: Ident,
    pub clauses: Vec<Ident>,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct State {
    pub name: Ident,
    pub title: Option<String>,
    pub initial: Option<Span>,
    pub final_: Option<Span>,
    pub tags: Vec<Ident>,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct Transition {
    pub name: Ident,
    pub from: Vec<Ident>,
    pub to: Ident,
    pub by: Vec<Ident>,
    pub requires: Vec<Ident>,
    pub guard: Option<Guard>,
    pub after: Option<Duration>,
    /// `preapproved`: re-entering an approved state this way needs no fresh
    /// approval (checked in `check::approval_gates`).
    pub preapproved: Option<Span>,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct Guard {
    pub source: String,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub enum Quorum {
    Count(u32),
    Percent(f64),
    All,
    Any,
}

#[derive(Debug, Clone)]
pub struct Approval {
    pub name: Ident,
    pub title: Option<String>,
    pub state: Ident,
    pub approvers: Vec<Ident>,
    pub quorum: Option<(Quorum, Span)>,
    /// Names after `distinct from`: `requester` or roles.
    pub distinct_from: Vec<Ident>,
    pub approved: Option<Ident>,
    pub rejected: Option<Ident>,
    pub timeout: Option<Timeout>,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct Timeout {
    pub after: Duration,
    pub escalate_to: Vec<Ident>,
    pub template: Option<Ident>,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct Sla {
    pub name: Ident,
    pub title: Option<String>,
    pub from: Vec<Ident>,
    pub until: Vec<Ident>,
    pub span_decl: Option<Span>,
    pub pause: Vec<Ident>,
    pub calendar: Option<Ident>,
    pub target: Option<Target>,
    pub warns: Vec<Warn>,
    pub breach: Option<Breach>,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub enum Target {
    Fixed(Duration),
    ByField {
        field: Ident,
        entries: Vec<(Ident, Duration)>,
        span: Span,
    },
}

#[derive(Debug, Clone)]
pub struct Warn {
    pub percent: f64,
    pub percent_span: Span,
    pub notify: Vec<Ident>,
    pub template: Option<Ident>,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct Breach {
    pub escalate_to: Vec<Ident>,
    pub template: Option<Ident>,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct Escalation {
    pub name: Ident,
    pub title: Option<String>,
    pub condition: Guard,
    pub notify: Vec<(Vec<Ident>, Option<Ident>)>,
    pub assign: Option<Ident>,
    pub span: Span,
}

/// `on enter S notify ROLES [template T]`
#[derive(Debug, Clone)]
pub struct OnEnter {
    pub states: Vec<Ident>,
    pub notify: Vec<Ident>,
    pub template: Option<Ident>,
    pub span: Span,
}

/// `spawn PROCESS on enter S [link FIELD] [when GUARD]`
#[derive(Debug, Clone)]
pub struct Spawn {
    pub process: Ident,
    pub states: Vec<Ident>,
    pub link: Option<Ident>,
    pub guard: Option<Guard>,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct Document {
    pub name: Ident,
    pub title: Option<String>,
    pub satisfies: Vec<Claim>,
    pub attests: Vec<Ident>,
    pub owner: Option<Ident>,
    pub approved_by: Vec<Ident>,
    pub review: Option<Duration>,
    pub span: Span,
}

/// A standard's clause catalog (the stdlib's `iso20000.pdca`).
#[derive(Debug, Clone)]
pub struct Standard {
    pub id: Ident,
    pub title: Option<String>,
    pub clauses: Vec<ClauseDecl>,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct ClauseDecl {
    pub id: Ident,
    pub title: String,
    pub obligations: Vec<Obligation>,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct Obligation {
    pub id: Ident,
    pub text: String,
    /// Met only by a document that `attests` it.
    pub attested: bool,
    pub predicates: Vec<Predicate>,
    pub span: Span,
}

/// What a claiming definition must contain for an obligation to be met.
#[derive(Debug, Clone)]
pub enum PredicateKind {
    State(Ident),
    Transition(Ident, Ident),
    Field {
        names: Vec<Ident>,
        derived: bool,
    },
    FieldOfType(Ident),
    Role(Ident),
    Owner,
    Approval(Option<Ident>),
    Sla(Option<Ident>),
    Escalation(Option<Ident>),
    Notification(Option<Ident>),
    /// `schedule [at most DURATION]`
    Schedule(Option<Duration>),
    /// `document [review at most DURATION]`
    Document(Option<Duration>),
    Link(Ident),
    /// `link from C`: a link arriving from a process implementing C.
    LinkFrom(Ident),
}

#[derive(Debug, Clone)]
pub struct Predicate {
    pub kind: PredicateKind,
    pub span: Span,
}
