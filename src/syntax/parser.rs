//! pest pairs -> AST, one `parse_*` function per grammar rule.

use pest::iterators::Pair;
use pest::Parser as _;

use super::ast::*;
use super::errors;
use super::once::{Kind, Once};
use super::span::{FileId, Ident, Span};
use crate::diag::Diagnostic;

#[derive(pest_derive::Parser)]
#[grammar = "../grammar/pdca.pest"]
pub struct PdcaParser;

/// Parses one file. Syntax errors come back as diagnostics; the AST is empty
/// when the file does not parse (pest stops at the first error).
pub fn parse(file: FileId, text: &str) -> (File, Vec<Diagnostic>) {
    let mut ctx = Ctx {
        file,
        diags: Vec::new(),
    };
    let ast = match PdcaParser::parse(Rule::file, text) {
        Ok(mut pairs) => match pairs.next() {
            Some(root) => ctx.parse_file(root),
            None => File::default(),
        },
        Err(err) => {
            ctx.diags.extend(errors::from_pest_all(file, text, &err));
            File::default()
        }
    };
    let mut ast = ast;
    ast.id = Some(file);
    (ast, ctx.diags)
}

struct Ctx {
    file: FileId,
    diags: Vec<Diagnostic>,
}

impl Ctx {
    /// The span of a pair without the trailing whitespace and comments that
    /// pest's implicit whitespace leaves inside non-atomic rules.
    fn span(&self, pair: &Pair<Rule>) -> Span {
        let s = pair.as_span();
        let text = trim_trailing_trivia(s.as_str());
        Span::new(self.file, s.start(), s.start() + text.len())
    }

    fn ident(&self, pair: Pair<Rule>) -> Ident {
        // `ident` is atomic, so its pair never ends in whitespace or a
        // comment: no trimming needed (names are most of the pairs of a file).
        let span = if pair.as_rule() == Rule::ident {
            let s = pair.as_span();
            Span::new(self.file, s.start(), s.end())
        } else {
            self.span(&pair)
        };
        Ident {
            name: pair.as_str().to_string(),
            span,
        }
    }

    fn idents(&self, pair: Pair<Rule>) -> Vec<Ident> {
        pair.into_inner()
            .filter(|p| p.as_rule() == Rule::ident)
            .map(|p| self.ident(p))
            .collect()
    }

    /// Reports a clause given twice on one declaration (E0107).
    fn once(
        &mut self,
        once: &mut Once,
        owner: impl FnOnce() -> String,
        clause: &'static str,
        pair: &Pair<Rule>,
        kind: Kind,
    ) {
        let span = self.span(pair);
        if let Some(d) = once.see(owner, clause, span, kind) {
            self.diags.push(d);
        }
    }

    fn invalid(&mut self, span: Span, message: String, help: &str) {
        self.diags.push(
            Diagnostic::new("E0105", span, message)
                .label("not a valid value")
                .help(help),
        );
    }

    fn parse_file(&mut self, root: Pair<Rule>) -> File {
        let mut file = File::default();
        for item in root.into_inner() {
            match item.as_rule() {
                Rule::use_decl => {
                    if let Some(u) = self.parse_use(item) {
                        file.uses.push(u);
                    }
                }
                Rule::role_decl => file.roles.push(self.parse_role(item)),
                Rule::tag_decl => file.tags.push(self.parse_tag(item)),
                Rule::calendar_decl => file.calendars.push(self.parse_calendar(item)),
                Rule::matrix_decl => {
                    if let Some(m) = self.parse_matrix(item) {
                        file.matrices.push(m);
                    }
                }
                Rule::template_decl => file.templates.push(self.parse_template(item)),
                Rule::record_decl => file.records.push(self.parse_record(item)),
                Rule::process_decl => file.processes.push(self.parse_process(item)),
                Rule::document_decl => file.documents.push(self.parse_document(item)),
                Rule::standard_decl => file.standards.push(self.parse_standard(item)),
                _ => {}
            }
        }
        file
    }

    fn parse_use(&mut self, pair: Pair<Rule>) -> Option<Use> {
        let span = self.span(&pair);
        let inner = pair.into_inner().find(|p| p.as_rule() != Rule::kw_use)?;
        match inner.as_rule() {
            Rule::use_stdlib => {
                let mut module = None;
                let mut names = UseNames::All;
                for p in inner.into_inner() {
                    match p.as_rule() {
                        Rule::ident if module.is_none() => module = Some(self.ident(p)),
                        Rule::ident => names = UseNames::Some(vec![self.ident(p)]),
                        Rule::use_names => names = UseNames::Some(self.idents(p)),
                        Rule::use_all => names = UseNames::All,
                        _ => {}
                    }
                }
                Some(Use::Stdlib {
                    module: module?,
                    names,
                    span,
                })
            }
            Rule::use_file => {
                let s = inner.into_inner().next()?;
                let (path, _) = self.string(s);
                Some(Use::File { path, span })
            }
            _ => None,
        }
    }

    /// The unescaped contents of a string literal and the span inside its quotes.
    fn string(&mut self, pair: Pair<Rule>) -> (String, Span) {
        let inner = pair.into_inner().next();
        let Some(inner) = inner else {
            return (String::new(), Span::new(self.file, 0, 0));
        };
        let span = self.span(&inner);
        let raw = inner.as_str();
        if !raw.contains('\\') {
            return (raw.to_string(), span);
        }
        let mut out = String::with_capacity(raw.len());
        let mut chars = raw.char_indices();
        while let Some((i, c)) = chars.next() {
            if c != '\\' {
                out.push(c);
                continue;
            }
            match chars.next() {
                Some((_, 'n')) => out.push('\n'),
                Some((_, 't')) => out.push('\t'),
                Some((_, '"')) => out.push('"'),
                Some((_, '\\')) => out.push('\\'),
                Some((j, other)) => {
                    let at = span.start as usize + i;
                    let end = span.start as usize + j + other.len_utf8();
                    self.invalid(
                        Span::new(self.file, at, end),
                        format!("unknown escape `\\{other}` in a string"),
                        "write `\\\\` for a backslash; the escapes are `\\n`, `\\t`, `\\\"` and `\\\\`",
                    );
                }
                None => {}
            }
        }
        (out, span)
    }

    /// A whole number, or `None` (reported) when it does not fit; callers
    /// drop the item instead of guessing a value that would cause more errors.
    fn u32_of(&mut self, pair: &Pair<Rule>, what: &str) -> Option<u32> {
        match pair.as_str().trim_end_matches('%').parse::<u32>() {
            Ok(n) => Some(n),
            Err(_) => {
                let span = self.span(pair);
                self.invalid(
                    span,
                    format!("{what} `{}` is too large", pair.as_str()),
                    "use a number below 4294967296",
                );
                None
            }
        }
    }

    fn parse_role(&mut self, pair: Pair<Rule>) -> Role {
        let mut name = None;
        let mut title = None;
        let mut members = None;
        for p in pair.into_inner() {
            match p.as_rule() {
                Rule::ident => name = Some(self.ident(p)),
                Rule::string => title = Some(self.string(p).0),
                Rule::int => {
                    let span = self.span(&p);
                    members = self.u32_of(&p, "member count").map(|n| (n, span));
                }
                _ => {}
            }
        }
        Role {
            name: name.unwrap_or_else(|| self.missing()),
            title,
            members,
        }
    }

    /// Placeholder for a part the grammar guarantees; only reached on a grammar bug.
    fn missing(&self) -> Ident {
        Ident {
            name: String::new(),
            span: Span::new(self.file, 0, 0),
        }
    }

    fn parse_tag(&mut self, pair: Pair<Rule>) -> Tag {
        let mut name = None;
        let mut description = None;
        let mut excludes = Vec::new();
        for p in pair.into_inner() {
            match p.as_rule() {
                Rule::ident => name = Some(self.ident(p)),
                Rule::string => description = Some(self.string(p).0),
                Rule::ident_list => excludes = self.idents(p),
                _ => {}
            }
        }
        Tag {
            name: name.unwrap_or_else(|| self.missing()),
            description,
            excludes,
        }
    }

    fn parse_calendar(&mut self, pair: Pair<Rule>) -> Calendar {
        let span = self.span(&pair);
        let mut cal = Calendar {
            name: self.missing(),
            title: None,
            zone: None,
            hours: Vec::new(),
            holidays: Vec::new(),
            span,
        };
        let mut once = Once::default();
        for p in pair.into_inner() {
            match p.as_rule() {
                Rule::ident => cal.name = self.ident(p),
                Rule::string => cal.title = Some(self.string(p).0),
                Rule::zone_item => {
                    let owner = || format!("calendar `{}`", cal.name.name);
                    self.once(&mut once, owner, "zone", &p, Kind::Single);
                    if let Some(s) = p.into_inner().find(|q| q.as_rule() == Rule::string) {
                        let (zone, zspan) = self.string(s);
                        cal.zone = Some((zone, zspan));
                    }
                }
                Rule::hours_item => cal.hours.push(self.parse_hours(p)),
                Rule::holiday_item => {
                    let hspan = self.span(&p);
                    let mut date = (0, 0, 0);
                    let mut name = None;
                    for q in p.into_inner() {
                        match q.as_rule() {
                            Rule::date => date = self.date(&q),
                            Rule::string => name = Some(self.string(q).0),
                            _ => {}
                        }
                    }
                    cal.holidays.push(Holiday {
                        date,
                        name,
                        span: hspan,
                    });
                }
                _ => {}
            }
        }
        cal
    }

    fn date(&mut self, pair: &Pair<Rule>) -> (i16, i8, i8) {
        let text = pair.as_str();
        let parts: Vec<i32> = text.split('-').filter_map(|s| s.parse().ok()).collect();
        if let [y, m, d] = parts[..] {
            let max_day = match m {
                1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
                4 | 6 | 9 | 11 => 30,
                2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
                2 => 28,
                _ => 0,
            };
            if (1..=9999).contains(&y) && (1..=max_day).contains(&d) {
                return (y as i16, m as i8, d as i8);
            }
        }
        let span = self.span(pair);
        self.invalid(
            span,
            format!("`{text}` is not a calendar date"),
            "write dates as YYYY-MM-DD, e.g. `2026-12-25`",
        );
        (0, 0, 0)
    }

    fn parse_hours(&mut self, pair: Pair<Rule>) -> Hours {
        let span = self.span(&pair);
        let mut hours = Hours {
            days: Vec::new(),
            times: Vec::new(),
            span,
        };
        for p in pair.into_inner() {
            match p.as_rule() {
                Rule::day_range => {
                    let dspan = self.span(&p);
                    let days: Vec<u8> = p.into_inner().map(|d| weekday(d.as_str())).collect();
                    let start = days.first().copied().unwrap_or(0);
                    let end = days.get(1).copied().unwrap_or(start);
                    hours.days.push((start, end, dspan));
                }
                Rule::time_range => {
                    let tspan = self.span(&p);
                    let times: Vec<Option<u16>> = p.into_inner().map(|t| self.time(&t)).collect();
                    if let [Some(start), Some(end)] = times[..] {
                        hours.times.push((start, end, tspan));
                    }
                }
                _ => {}
            }
        }
        hours
    }

    fn time(&mut self, pair: &Pair<Rule>) -> Option<u16> {
        let text = pair.as_str();
        let (h, m) = text.split_once(':').unwrap_or(("99", "99"));
        let h: u16 = h.parse().unwrap_or(99);
        let m: u16 = m.parse().unwrap_or(99);
        if (h < 24 && m < 60) || (h == 24 && m == 0) {
            return Some(h * 60 + m);
        }
        let span = self.span(pair);
        self.invalid(
            span,
            format!("`{text}` is not a time of day"),
            "write times as HH:MM between 00:00 and 24:00",
        );
        None
    }

    fn parse_matrix(&mut self, pair: Pair<Rule>) -> Option<Matrix> {
        let span = self.span(&pair);
        let mut name = None;
        let mut params = Vec::new();
        let mut result = None;
        let mut rows = Vec::new();
        for p in pair.into_inner() {
            match p.as_rule() {
                Rule::ident => name = Some(self.ident(p)),
                Rule::matrix_param => {
                    let mut inner = p.into_inner();
                    let pname = self.ident(inner.next()?);
                    let ty = self.parse_type(inner.next()?)?;
                    params.push((pname, ty));
                }
                Rule::type_expr => result = self.parse_type(p),
                Rule::matrix_row => {
                    let rspan = self.span(&p);
                    let mut values: Vec<Ident> = p
                        .into_inner()
                        .filter(|q| q.as_rule() == Rule::ident)
                        .map(|q| self.ident(q))
                        .collect();
                    let output = values.pop()?;
                    rows.push(MatrixRow {
                        inputs: values,
                        output,
                        span: rspan,
                    });
                }
                _ => {}
            }
        }
        Some(Matrix {
            name: name?,
            params,
            result: result?,
            rows,
            span,
        })
    }

    fn parse_template(&mut self, pair: Pair<Rule>) -> Template {
        let mut t = Template {
            name: self.missing(),
            subject: None,
            body: None,
        };
        let mut once = Once::default();
        for p in pair.into_inner() {
            let owner = || format!("template `{}`", t.name.name);
            match p.as_rule() {
                Rule::subject_item => self.once(&mut once, owner, "subject", &p, Kind::Single),
                Rule::body_item => self.once(&mut once, owner, "body", &p, Kind::Single),
                _ => {}
            }
            match p.as_rule() {
                Rule::ident => t.name = self.ident(p),
                Rule::subject_item | Rule::body_item => {
                    let is_subject = p.as_rule() == Rule::subject_item;
                    if let Some(s) = p.into_inner().find(|q| q.as_rule() == Rule::string) {
                        let raw = s.as_str();
                        let raw = raw[1..raw.len().saturating_sub(1).max(1)].to_string();
                        let (text, span) = self.string(s);
                        let text = TemplateText { text, raw, span };
                        if is_subject {
                            t.subject = Some(text);
                        } else {
                            t.body = Some(text);
                        }
                    }
                }
                _ => {}
            }
        }
        t
    }

    fn parse_record(&mut self, pair: Pair<Rule>) -> Record {
        let span = self.span(&pair);
        let mut rec = Record {
            name: self.missing(),
            title: None,
            fields: Vec::new(),
            span,
        };
        for p in pair.into_inner() {
            match p.as_rule() {
                Rule::ident => rec.name = self.ident(p),
                Rule::string => rec.title = Some(self.string(p).0),
                Rule::field_decl => {
                    if let Some(f) = self.parse_field(p) {
                        rec.fields.push(f);
                    }
                }
                _ => {}
            }
        }
        rec
    }

    fn parse_field(&mut self, pair: Pair<Rule>) -> Option<Field> {
        let span = self.span(&pair);
        let mut inner = pair.into_inner();
        let name = self.ident(inner.next()?);
        let ty = self.parse_type(inner.next()?)?;
        let mut field = Field {
            name,
            ty,
            required: None,
            required_at: Vec::new(),
            default: None,
            derived: None,
            span,
        };
        let owner = || format!("field `{}`", field.name.name);
        let mut once = Once::default();
        for p in inner {
            let clause = match p.as_rule() {
                Rule::required_mod => Some("required"),
                Rule::default_mod => Some("default"),
                Rule::derived_mod => Some("="),
                _ => None,
            };
            if let Some(clause) = clause {
                self.once(&mut once, owner, clause, &p, Kind::Single);
            }
            match p.as_rule() {
                Rule::required_mod => {
                    let rspan = self.span(&p);
                    let states: Vec<Ident> = p
                        .into_inner()
                        .filter(|q| q.as_rule() == Rule::ident_list)
                        .flat_map(|q| self.idents(q))
                        .collect();
                    if states.is_empty() {
                        field.required = Some(rspan);
                    } else {
                        field.required_at.extend(states);
                    }
                }
                Rule::default_mod => {
                    if let Some(lit) = p.into_inner().find(|q| q.as_rule() == Rule::literal) {
                        field.default = self.parse_literal(lit);
                    }
                }
                Rule::derived_mod => {
                    let dspan = self.span(&p);
                    let mut parts = p.into_inner();
                    let function = self.ident(parts.next()?);
                    let args = parts.next().map(|a| self.idents(a)).unwrap_or_default();
                    field.derived = Some(Derivation {
                        function,
                        args,
                        span: dspan,
                    });
                }
                _ => {}
            }
        }
        Some(field)
    }

    fn parse_type(&mut self, pair: Pair<Rule>) -> Option<TypeExpr> {
        let inner = pair.into_inner().next()?;
        let span = self.span(&inner);
        Some(match inner.as_rule() {
            Rule::named_type => TypeExpr::Named(self.ident(inner.into_inner().next()?)),
            Rule::enum_type => {
                let list = inner
                    .into_inner()
                    .find(|p| p.as_rule() == Rule::ident_list)?;
                TypeExpr::Enum(self.idents(list), span)
            }
            Rule::ref_type => {
                let target = inner.into_inner().find(|p| p.as_rule() == Rule::ident)?;
                TypeExpr::Ref(self.ident(target), span)
            }
            Rule::list_type => {
                // The element is a plain type (lists do not nest); wrap it so
                // parse_type can read it like any other type.
                let elem = inner
                    .into_inner()
                    .find(|p| !matches!(p.as_rule(), Rule::kw_list | Rule::kw_of))?;
                let elem_type = match elem.as_rule() {
                    Rule::named_type => TypeExpr::Named(self.ident(elem.into_inner().next()?)),
                    Rule::enum_type => {
                        let espan = self.span(&elem);
                        let list = elem
                            .into_inner()
                            .find(|p| p.as_rule() == Rule::ident_list)?;
                        TypeExpr::Enum(self.idents(list), espan)
                    }
                    Rule::ref_type => {
                        let rspan = self.span(&elem);
                        let target = elem.into_inner().find(|p| p.as_rule() == Rule::ident)?;
                        TypeExpr::Ref(self.ident(target), rspan)
                    }
                    _ => return None,
                };
                TypeExpr::List(Box::new(elem_type), span)
            }
            _ => return None,
        })
    }

    fn parse_literal(&mut self, pair: Pair<Rule>) -> Option<Literal> {
        let inner = pair.into_inner().next()?;
        let span = self.span(&inner);
        let kind = match inner.as_rule() {
            Rule::string => LiteralKind::String(self.string(inner).0),
            Rule::duration => LiteralKind::Duration(self.parse_duration(inner)),
            Rule::date => {
                self.date(&inner);
                LiteralKind::Date(inner.as_str().to_string())
            }
            Rule::number => LiteralKind::Number(inner.as_str().to_string()),
            Rule::ident => LiteralKind::Ident(inner.as_str().to_string()),
            _ => return None,
        };
        Some(Literal { kind, span })
    }

    fn parse_duration(&mut self, pair: Pair<Rule>) -> Duration {
        let span = self.span(&pair);
        let mut d = Duration {
            amount: 0,
            unit: DurationUnit::Days,
            business: false,
            span,
        };
        for p in pair.into_inner() {
            match p.as_rule() {
                Rule::duration_amount => match p.as_str().parse::<u64>() {
                    Ok(n) if n <= MAX_DURATION_AMOUNT => d.amount = n,
                    _ => {
                        // Keep a non-zero amount so no "zero target" follows.
                        d.amount = MAX_DURATION_AMOUNT;
                        let s = self.span(&p);
                        self.invalid(
                            s,
                            format!("duration `{}` is too long", p.as_str()),
                            "durations are limited to 1000000 units",
                        );
                    }
                },
                Rule::kw_business => d.business = true,
                Rule::duration_unit => d.unit = duration_unit(p.as_str()),
                _ => {}
            }
        }
        d
    }

    fn parse_guard(&mut self, pair: Pair<Rule>) -> Option<Guard> {
        let guard = pair.into_inner().find(|p| p.as_rule() == Rule::guard)?;
        let inner = guard.into_inner().next()?;
        let span = self.span(&inner);
        let raw = inner.as_str();
        let trimmed = raw.trim_end();
        Some(Guard {
            source: trimmed.to_string(),
            span: Span::new(
                self.file,
                span.start as usize,
                span.start as usize + trimmed.len(),
            ),
        })
    }

    fn parse_claim(&mut self, pair: Pair<Rule>) -> Claim {
        let span = self.span(&pair);
        let mut standard = self.missing();
        let mut clauses = Vec::new();
        for p in pair.into_inner() {
            match p.as_rule() {
                Rule::standard_id => standard = self.ident(p),
                Rule::clause_list => clauses = p.into_inner().map(|c| self.ident(c)).collect(),
                _ => {}
            }
        }
        Claim {
            standard,
            clauses,
            span,
        }
    }

    fn first_ident(&self, pair: Pair<Rule>) -> Option<Ident> {
        pair.into_inner()
            .find(|p| p.as_rule() == Rule::ident)
            .map(|p| self.ident(p))
    }

    fn parse_process(&mut self, pair: Pair<Rule>) -> Process {
        let span = self.span(&pair);
        let mut proc = Process {
            name: self.missing(),
            title: None,
            record: self.missing(),
            implements: Vec::new(),
            owner: None,
            started_by: Vec::new(),
            states: Vec::new(),
            transitions: Vec::new(),
            approvals: Vec::new(),
            slas: Vec::new(),
            escalations: Vec::new(),
            on_enter: Vec::new(),
            spawns: Vec::new(),
            schedule: None,
            calendar: None,
            span,
        };
        let mut seen_name = false;
        let mut once = Once::default();
        for p in pair.into_inner() {
            let owner = || format!("process `{}`", proc.name.name);
            match p.as_rule() {
                Rule::owner_item => self.once(&mut once, owner, "owner", &p, Kind::Single),
                Rule::started_item => self.once(&mut once, owner, "started by", &p, Kind::List),
                Rule::schedule_item => self.once(&mut once, owner, "schedule", &p, Kind::Single),
                Rule::calendar_ref => self.once(&mut once, owner, "calendar", &p, Kind::Single),
                _ => {}
            }
            match p.as_rule() {
                Rule::ident if !seen_name => {
                    proc.name = self.ident(p);
                    seen_name = true;
                }
                Rule::ident => proc.record = self.ident(p),
                Rule::string => proc.title = Some(self.string(p).0),
                Rule::implements_item => {
                    let claim = self.parse_claim(p);
                    proc.implements.push(claim);
                }
                Rule::owner_item => proc.owner = self.first_ident(p),
                Rule::started_item => {
                    for q in p.into_inner() {
                        if q.as_rule() == Rule::ident_list {
                            proc.started_by.extend(self.idents(q));
                        }
                    }
                }
                Rule::state_decl => proc.states.push(self.parse_state(p)),
                Rule::transition_decl => {
                    if let Some(t) = self.parse_transition(p) {
                        proc.transitions.push(t);
                    }
                }
                Rule::approval_decl => proc.approvals.push(self.parse_approval(p)),
                Rule::sla_decl => proc.slas.push(self.parse_sla(p)),
                Rule::escalation_decl => {
                    if let Some(e) = self.parse_escalation(p) {
                        proc.escalations.push(e);
                    }
                }
                Rule::on_enter_decl => proc.on_enter.push(self.parse_on_enter(p)),
                Rule::spawn_decl => proc.spawns.push(self.parse_spawn(p)),
                Rule::schedule_item => {
                    if let Some(d) = p.into_inner().find(|q| q.as_rule() == Rule::duration) {
                        proc.schedule = Some(self.parse_duration(d));
                    }
                }
                Rule::calendar_ref => proc.calendar = self.first_ident(p),
                _ => {}
            }
        }
        proc
    }

    fn parse_state(&mut self, pair: Pair<Rule>) -> State {
        let span = self.span(&pair);
        let mut state = State {
            name: self.missing(),
            title: None,
            initial: None,
            final_: None,
            tags: Vec::new(),
            span,
        };
        let mut once = Once::default();
        for p in pair.into_inner() {
            let owner = || format!("state `{}`", state.name.name);
            match p.as_rule() {
                Rule::initial_flag => self.once(&mut once, owner, "initial", &p, Kind::Single),
                Rule::final_flag => self.once(&mut once, owner, "final", &p, Kind::Single),
                Rule::tags_flag => self.once(&mut once, owner, "is", &p, Kind::List),
                _ => {}
            }
            match p.as_rule() {
                Rule::ident => state.name = self.ident(p),
                Rule::string => state.title = Some(self.string(p).0),
                Rule::initial_flag => state.initial = Some(self.span(&p)),
                Rule::final_flag => state.final_ = Some(self.span(&p)),
                Rule::tags_flag => {
                    for q in p.into_inner() {
                        if q.as_rule() == Rule::ident_list {
                            state.tags.extend(self.idents(q));
                        }
                    }
                }
                _ => {}
            }
        }
        state
    }

    fn parse_transition(&mut self, pair: Pair<Rule>) -> Option<Transition> {
        let span = self.span(&pair);
        let mut inner = pair
            .into_inner()
            .filter(|p| !matches!(p.as_rule(), Rule::kw_transition | Rule::arrow));
        let name = self.ident(inner.next()?);
        let from = self.idents(inner.next()?);
        let to = self.ident(inner.next()?);
        let mut t = Transition {
            name,
            from,
            to,
            by: Vec::new(),
            requires: Vec::new(),
            guard: None,
            after: None,
            preapproved: None,
            span,
        };
        let owner = || format!("transition `{}`", t.name.name);
        let mut once = Once::default();
        for p in inner {
            match p.as_rule() {
                Rule::by_clause => self.once(&mut once, owner, "by", &p, Kind::List),
                Rule::requires_clause => self.once(&mut once, owner, "requires", &p, Kind::List),
                Rule::after_clause => self.once(&mut once, owner, "after", &p, Kind::Single),
                Rule::when_clause => self.once(&mut once, owner, "when", &p, Kind::Single),
                _ => {}
            }
            match p.as_rule() {
                Rule::by_clause => t.by.extend(self.list_in(p)),
                Rule::requires_clause => t.requires.extend(self.list_in(p)),
                Rule::after_clause => {
                    if let Some(d) = p.into_inner().find(|q| q.as_rule() == Rule::duration) {
                        t.after = Some(self.parse_duration(d));
                    }
                }
                Rule::when_clause => t.guard = self.parse_guard(p),
                Rule::preapproved_flag => t.preapproved = Some(self.span(&p)),
                _ => {}
            }
        }
        Some(t)
    }

    /// The names of the `ident_list` inside a clause.
    fn list_in(&self, pair: Pair<Rule>) -> Vec<Ident> {
        pair.into_inner()
            .filter(|q| q.as_rule() == Rule::ident_list)
            .flat_map(|q| self.idents(q))
            .collect()
    }

    fn parse_approval(&mut self, pair: Pair<Rule>) -> Approval {
        let span = self.span(&pair);
        let mut a = Approval {
            name: self.missing(),
            title: None,
            state: self.missing(),
            approvers: Vec::new(),
            quorum: None,
            distinct_from: Vec::new(),
            approved: None,
            rejected: None,
            timeout: None,
            span,
        };
        let mut seen_name = false;
        let mut once = Once::default();
        for p in pair.into_inner() {
            let owner = || format!("approval `{}`", a.name.name);
            let clause = match p.as_rule() {
                Rule::approvers_item => Some(("approvers", Kind::List)),
                Rule::quorum_item => Some(("quorum", Kind::Single)),
                Rule::distinct_item => Some(("distinct from", Kind::List)),
                Rule::approved_item => Some(("approved", Kind::Single)),
                Rule::rejected_item => Some(("rejected", Kind::Single)),
                Rule::timeout_item => Some(("timeout", Kind::Single)),
                _ => None,
            };
            if let Some((clause, kind)) = clause {
                self.once(&mut once, owner, clause, &p, kind);
            }
            match p.as_rule() {
                Rule::ident if !seen_name => {
                    a.name = self.ident(p);
                    seen_name = true;
                }
                Rule::ident => a.state = self.ident(p),
                Rule::string => a.title = Some(self.string(p).0),
                Rule::approvers_item => a.approvers.extend(self.list_in(p)),
                Rule::quorum_item => {
                    let qspan = self.span(&p);
                    for q in p.into_inner() {
                        let quorum = match q.as_rule() {
                            Rule::percent => {
                                let text = q.as_str().trim_end_matches('%');
                                Quorum::Percent(text.parse().unwrap_or(0.0))
                            }
                            Rule::int => match self.u32_of(&q, "quorum") {
                                Some(n) => Quorum::Count(n),
                                None => continue,
                            },
                            Rule::kw_all => Quorum::All,
                            Rule::kw_any => Quorum::Any,
                            _ => continue,
                        };
                        a.quorum = Some((quorum, qspan));
                    }
                }
                Rule::distinct_item => a.distinct_from.extend(self.list_in(p)),
                Rule::approved_item => a.approved = self.first_ident(p),
                Rule::rejected_item => a.rejected = self.first_ident(p),
                Rule::timeout_item => {
                    let tspan = self.span(&p);
                    let mut after = None;
                    let mut escalate_to = Vec::new();
                    let mut template = None;
                    for q in p.into_inner() {
                        match q.as_rule() {
                            Rule::duration => after = Some(self.parse_duration(q)),
                            Rule::ident_list => escalate_to = self.idents(q),
                            Rule::template_ref => template = self.first_ident(q),
                            _ => {}
                        }
                    }
                    if let Some(after) = after {
                        a.timeout = Some(Timeout {
                            after,
                            escalate_to,
                            template,
                            span: tspan,
                        });
                    }
                }
                _ => {}
            }
        }
        a
    }

    fn parse_sla(&mut self, pair: Pair<Rule>) -> Sla {
        let span = self.span(&pair);
        let mut sla = Sla {
            name: self.missing(),
            title: None,
            from: Vec::new(),
            until: Vec::new(),
            span_decl: None,
            pause: Vec::new(),
            calendar: None,
            target: None,
            warns: Vec::new(),
            breach: None,
            span,
        };
        let mut once = Once::default();
        for p in pair.into_inner() {
            let owner = || format!("sla `{}`", sla.name.name);
            let clause = match p.as_rule() {
                Rule::sla_span => Some(("from", Kind::Single)),
                Rule::pause_item => Some(("pause in", Kind::List)),
                Rule::calendar_ref => Some(("calendar", Kind::Single)),
                Rule::target_item => Some(("target", Kind::Single)),
                Rule::breach_item => Some(("breach", Kind::Single)),
                _ => None,
            };
            if let Some((clause, kind)) = clause {
                self.once(&mut once, owner, clause, &p, kind);
            }
            match p.as_rule() {
                Rule::ident => sla.name = self.ident(p),
                Rule::string => sla.title = Some(self.string(p).0),
                Rule::sla_span => {
                    sla.span_decl = Some(self.span(&p));
                    let lists: Vec<Vec<Ident>> = p
                        .into_inner()
                        .filter(|q| q.as_rule() == Rule::ident_list)
                        .map(|q| self.idents(q))
                        .collect();
                    let mut lists = lists.into_iter();
                    sla.from = lists.next().unwrap_or_default();
                    sla.until = lists.next().unwrap_or_default();
                }
                Rule::pause_item => sla.pause.extend(self.list_in(p)),
                Rule::calendar_ref => sla.calendar = self.first_ident(p),
                Rule::target_item => {
                    for q in p.into_inner() {
                        match q.as_rule() {
                            Rule::duration => {
                                sla.target = Some(Target::Fixed(self.parse_duration(q)))
                            }
                            Rule::target_table => {
                                let tspan = self.span(&q);
                                let mut field = self.missing();
                                let mut entries = Vec::new();
                                for r in q.into_inner() {
                                    match r.as_rule() {
                                        Rule::ident => field = self.ident(r),
                                        Rule::target_entry => {
                                            let mut e = r.into_inner();
                                            if let (Some(k), Some(d)) = (e.next(), e.next()) {
                                                let key = self.ident(k);
                                                entries.push((key, self.parse_duration(d)));
                                            }
                                        }
                                        _ => {}
                                    }
                                }
                                sla.target = Some(Target::ByField {
                                    field,
                                    entries,
                                    span: tspan,
                                });
                            }
                            _ => {}
                        }
                    }
                }
                Rule::warn_item => {
                    let wspan = self.span(&p);
                    let mut warn = Warn {
                        percent: 0.0,
                        percent_span: wspan,
                        notify: Vec::new(),
                        template: None,
                        span: wspan,
                    };
                    for q in p.into_inner() {
                        match q.as_rule() {
                            Rule::percent => {
                                warn.percent_span = self.span(&q);
                                warn.percent =
                                    q.as_str().trim_end_matches('%').parse().unwrap_or(0.0);
                            }
                            Rule::ident_list => warn.notify = self.idents(q),
                            Rule::template_ref => warn.template = self.first_ident(q),
                            _ => {}
                        }
                    }
                    sla.warns.push(warn);
                }
                Rule::breach_item => {
                    let bspan = self.span(&p);
                    let mut breach = Breach {
                        escalate_to: Vec::new(),
                        template: None,
                        span: bspan,
                    };
                    for q in p.into_inner() {
                        match q.as_rule() {
                            Rule::ident_list => breach.escalate_to = self.idents(q),
                            Rule::template_ref => breach.template = self.first_ident(q),
                            _ => {}
                        }
                    }
                    sla.breach = Some(breach);
                }
                _ => {}
            }
        }
        sla
    }

    fn parse_escalation(&mut self, pair: Pair<Rule>) -> Option<Escalation> {
        let span = self.span(&pair);
        let mut name = None;
        let mut title = None;
        let mut condition = None;
        let mut notify = Vec::new();
        let mut assign = None;
        let mut once = Once::default();
        for p in pair.into_inner() {
            match p.as_rule() {
                Rule::ident => name = Some(self.ident(p)),
                Rule::string => title = Some(self.string(p).0),
                Rule::guard => {
                    let inner = p.into_inner().next()?;
                    let gspan = self.span(&inner);
                    let trimmed = inner.as_str().trim_end();
                    condition = Some(Guard {
                        source: trimmed.to_string(),
                        span: Span::new(
                            self.file,
                            gspan.start as usize,
                            gspan.start as usize + trimmed.len(),
                        ),
                    });
                }
                Rule::notify_action => {
                    let mut roles = Vec::new();
                    let mut template = None;
                    for q in p.into_inner() {
                        match q.as_rule() {
                            Rule::ident_list => roles = self.idents(q),
                            Rule::template_ref => template = self.first_ident(q),
                            _ => {}
                        }
                    }
                    notify.push((roles, template));
                }
                Rule::assign_action => {
                    let owner = || {
                        format!(
                            "escalation `{}`",
                            name.as_ref().map(|n: &Ident| n.name.as_str()).unwrap_or("")
                        )
                    };
                    self.once(&mut once, owner, "assign", &p, Kind::Single);
                    assign = self.first_ident(p);
                }
                _ => {}
            }
        }
        Some(Escalation {
            name: name?,
            title,
            condition: condition?,
            notify,
            assign,
            span,
        })
    }

    fn parse_on_enter(&mut self, pair: Pair<Rule>) -> OnEnter {
        let span = self.span(&pair);
        let mut lists = Vec::new();
        let mut template = None;
        for p in pair.into_inner() {
            match p.as_rule() {
                Rule::ident_list => lists.push(self.idents(p)),
                Rule::template_ref => template = self.first_ident(p),
                _ => {}
            }
        }
        let mut lists = lists.into_iter();
        OnEnter {
            states: lists.next().unwrap_or_default(),
            notify: lists.next().unwrap_or_default(),
            template,
            span,
        }
    }

    fn parse_spawn(&mut self, pair: Pair<Rule>) -> Spawn {
        let span = self.span(&pair);
        let mut spawn = Spawn {
            process: self.missing(),
            states: Vec::new(),
            link: None,
            guard: None,
            span,
        };
        let mut seen_process = false;
        for p in pair.into_inner() {
            match p.as_rule() {
                Rule::ident if !seen_process => {
                    spawn.process = self.ident(p);
                    seen_process = true;
                }
                Rule::ident => spawn.link = Some(self.ident(p)),
                Rule::ident_list => spawn.states = self.idents(p),
                Rule::when_clause => spawn.guard = self.parse_guard(p),
                _ => {}
            }
        }
        spawn
    }

    fn parse_document(&mut self, pair: Pair<Rule>) -> Document {
        let span = self.span(&pair);
        let mut doc = Document {
            name: self.missing(),
            title: None,
            satisfies: Vec::new(),
            attests: Vec::new(),
            owner: None,
            approved_by: Vec::new(),
            review: None,
            span,
        };
        let mut once = Once::default();
        for p in pair.into_inner() {
            let owner = || format!("document `{}`", doc.name.name);
            let clause = match p.as_rule() {
                Rule::owner_item => Some(("owner", Kind::Single)),
                Rule::approved_by_item => Some(("approved by", Kind::List)),
                Rule::review_item => Some(("review", Kind::Single)),
                _ => None,
            };
            if let Some((clause, kind)) = clause {
                self.once(&mut once, owner, clause, &p, kind);
            }
            match p.as_rule() {
                Rule::ident => doc.name = self.ident(p),
                Rule::string => doc.title = Some(self.string(p).0),
                Rule::satisfies_item => {
                    let claim = self.parse_claim(p);
                    doc.satisfies.push(claim);
                }
                Rule::attests_item => doc.attests.extend(
                    p.into_inner()
                        .filter(|q| q.as_rule() == Rule::obligation_id)
                        .map(|q| self.ident(q)),
                ),
                Rule::owner_item => doc.owner = self.first_ident(p),
                Rule::approved_by_item => doc.approved_by.extend(self.list_in(p)),
                Rule::review_item => {
                    if let Some(d) = p.into_inner().find(|q| q.as_rule() == Rule::duration) {
                        doc.review = Some(self.parse_duration(d));
                    }
                }
                _ => {}
            }
        }
        doc
    }
}

impl Ctx {
    fn parse_standard(&mut self, pair: Pair<Rule>) -> Standard {
        let span = self.span(&pair);
        let mut standard = Standard {
            id: self.missing(),
            title: None,
            clauses: Vec::new(),
            span,
        };
        for p in pair.into_inner() {
            match p.as_rule() {
                Rule::standard_id => standard.id = self.ident(p),
                Rule::string => standard.title = Some(self.string(p).0),
                Rule::clause_decl => {
                    let cspan = self.span(&p);
                    let mut clause = ClauseDecl {
                        id: self.missing(),
                        title: String::new(),
                        obligations: Vec::new(),
                        span: cspan,
                    };
                    for q in p.into_inner() {
                        match q.as_rule() {
                            Rule::clause_id => clause.id = self.ident(q),
                            Rule::string => clause.title = self.string(q).0,
                            Rule::obligation_decl => {
                                clause.obligations.push(self.parse_obligation(q))
                            }
                            _ => {}
                        }
                    }
                    standard.clauses.push(clause);
                }
                _ => {}
            }
        }
        standard
    }

    fn parse_obligation(&mut self, pair: Pair<Rule>) -> Obligation {
        let span = self.span(&pair);
        let mut ob = Obligation {
            id: self.missing(),
            text: String::new(),
            attested: false,
            predicates: Vec::new(),
            span,
        };
        for p in pair.into_inner() {
            let pspan = self.span(&p);
            let idents: Vec<Ident> = p
                .clone()
                .into_inner()
                .filter(|q| matches!(q.as_rule(), Rule::ident | Rule::clause_id))
                .map(|q| self.ident(q))
                .collect();
            let has = |rule: Rule| p.clone().into_inner().any(|q| q.as_rule() == rule);
            let first = idents.first().cloned();
            let kind = match p.as_rule() {
                Rule::obligation_id => {
                    ob.id = self.ident(p);
                    continue;
                }
                Rule::string => {
                    ob.text = self.string(p).0;
                    continue;
                }
                Rule::kw_attested => {
                    ob.attested = true;
                    continue;
                }
                Rule::pred_state => PredicateKind::State(first.unwrap_or_else(|| self.missing())),
                Rule::pred_transition => {
                    let mut it = idents.into_iter();
                    let from = it.next().unwrap_or_else(|| self.missing());
                    let to = it.next().unwrap_or_else(|| self.missing());
                    PredicateKind::Transition(from, to)
                }
                Rule::pred_field if has(Rule::kw_type) => {
                    PredicateKind::FieldOfType(first.unwrap_or_else(|| self.missing()))
                }
                Rule::pred_field => PredicateKind::Field {
                    derived: has(Rule::kw_derived),
                    names: idents,
                },
                Rule::pred_role => PredicateKind::Role(first.unwrap_or_else(|| self.missing())),
                Rule::pred_owner => PredicateKind::Owner,
                Rule::pred_approval => PredicateKind::Approval(first),
                Rule::pred_sla => PredicateKind::Sla(first),
                Rule::pred_escalation => PredicateKind::Escalation(first),
                Rule::pred_notification => PredicateKind::Notification(first),
                Rule::pred_schedule => PredicateKind::Schedule(self.max_interval(&p)),
                Rule::pred_document => PredicateKind::Document(self.max_interval(&p)),
                Rule::pred_link if has(Rule::kw_from) => {
                    PredicateKind::LinkFrom(first.unwrap_or_else(|| self.missing()))
                }
                Rule::pred_link => PredicateKind::Link(first.unwrap_or_else(|| self.missing())),
                _ => continue,
            };
            ob.predicates.push(Predicate { kind, span: pspan });
        }
        ob
    }
}

impl Ctx {
    /// The `at most DURATION` of a catalog predicate.
    fn max_interval(&mut self, p: &Pair<Rule>) -> Option<Duration> {
        p.clone()
            .into_inner()
            .find(|q| q.as_rule() == Rule::duration)
            .map(|d| self.parse_duration(d))
    }
}

/// Strips trailing whitespace and `//` comments from the end of a rule's text.
fn trim_trailing_trivia(mut text: &str) -> &str {
    loop {
        let trimmed = text.trim_end();
        // A trailing line comment: the last line starts a `//` outside a string.
        let last_line_start = trimmed.rfind('\n').map(|i| i + 1).unwrap_or(0);
        let last_line = &trimmed[last_line_start..];
        // A `//` after an even number of quotes is outside any string.
        let comment = last_line
            .match_indices("//")
            .map(|(i, _)| i)
            .find(|&i| last_line[..i].matches('"').count().is_multiple_of(2));
        match comment {
            Some(i) => text = &trimmed[..last_line_start + i],
            None => return trimmed,
        }
    }
}

/// Durations above this many units are refused (a million hours is a century).
pub(crate) const MAX_DURATION_AMOUNT: u64 = 1_000_000;

/// The unit a `duration_unit` token names.
pub(crate) fn duration_unit(text: &str) -> DurationUnit {
    match text {
        "minutes" | "minute" | "mins" | "min" | "m" => DurationUnit::Minutes,
        "hours" | "hour" | "h" => DurationUnit::Hours,
        "days" | "day" | "d" => DurationUnit::Days,
        "weeks" | "week" | "w" => DurationUnit::Weeks,
        "months" | "month" | "mo" => DurationUnit::Months,
        _ => DurationUnit::Years,
    }
}

fn weekday(s: &str) -> u8 {
    match s {
        "mon" => 0,
        "tue" => 1,
        "wed" => 2,
        "thu" => 3,
        "fri" => 4,
        "sat" => 5,
        _ => 6,
    }
}
