//! Turns pest's errors into diagnostics written for process designers:
//! what was expected, in words, and what was found instead.

use pest::error::{Error, ErrorVariant, InputLocation};

use super::parser::Rule;
use super::span::{FileId, Span};
use crate::diag::Diagnostic;

/// The words a designer knows for each grammar rule; `None` hides a rule
/// that never helps in a message.
fn describe(rule: Rule) -> Option<&'static str> {
    use Rule::*;
    Some(match rule {
        EOI => "end of file",
        ident | ident_list => "a name",
        string | string_inner => "a quoted string",
        int => "a whole number",
        number => "a number",
        percent => "a percentage such as `75%`",
        date => "a date such as `2026-12-25`",
        time => "a time such as `09:00`",
        duration | duration_amount => "a duration such as `4h` or `5 business days`",
        duration_unit => "a duration unit (`m`, `h`, `d`, `w`, `months`)",
        standard_id => "a standard such as `iso20000-1:2018`",
        clause_id | clause_list => "a clause number such as `8.6.1`",
        obligation_id => "an obligation id such as `8.6.1-02`",
        literal => "a value",
        guard | guard_line | guard_backtick => "a guard expression",
        weekday | day_range => "a weekday (`mon` … `sun`)",
        time_range => "a time range such as `09:00-17:00`",
        type_expr | named_type | list_type | enum_type | ref_type => "a type",
        kw_use => "`use`",
        kw_stdlib => "`stdlib`",
        kw_role => "`role`",
        kw_members => "`members`",
        kw_calendar => "`calendar`",
        kw_zone => "`zone`",
        kw_hours => "`hours`",
        kw_holiday => "`holiday`",
        kw_matrix => "`matrix`",
        kw_template => "`template`",
        kw_subject => "`subject`",
        kw_body => "`body`",
        kw_tag => "`tag`",
        kw_record => "`record`",
        kw_list => "`list`",
        kw_of => "`of`",
        kw_enum => "`enum`",
        kw_ref => "`ref`",
        kw_required => "`required`",
        kw_at => "`at`",
        kw_excludes => "`excludes`",
        kw_most => "`most`",
        kw_default => "`default`",
        kw_process => "`process`",
        kw_for => "`for`",
        kw_implements => "`implements`",
        kw_owner => "`owner`",
        kw_started => "`started`",
        kw_by => "`by`",
        kw_state => "`state`",
        kw_initial => "`initial`",
        kw_final => "`final`",
        kw_is => "`is`",
        kw_transition => "`transition`",
        kw_requires => "`requires`",
        kw_when => "`when`",
        kw_after => "`after`",
        kw_preapproved => "`preapproved`",
        kw_business => "`business`",
        kw_approval => "`approval`",
        kw_on => "`on`",
        kw_approvers => "`approvers`",
        kw_quorum => "`quorum`",
        kw_all => "`all`",
        kw_any => "`any`",
        kw_distinct => "`distinct`",
        kw_from => "`from`",
        kw_approved => "`approved`",
        kw_rejected => "`rejected`",
        kw_timeout => "`timeout`",
        kw_escalate => "`escalate`",
        kw_to => "`to`",
        kw_sla => "`sla`",
        kw_until => "`until`",
        kw_pause => "`pause`",
        kw_in => "`in`",
        kw_target => "`target`",
        kw_warn => "`warn`",
        kw_notify => "`notify`",
        kw_breach => "`breach`",
        kw_escalation => "`escalation`",
        kw_assign => "`assign`",
        kw_enter => "`enter`",
        kw_spawn => "`spawn`",
        kw_link => "`link`",
        kw_schedule => "`schedule`",
        kw_every => "`every`",
        kw_document => "`document`",
        kw_satisfies => "`satisfies`",
        kw_attests => "`attests`",
        kw_review => "`review`",
        use_all => "`*`",
        arrow => "`->`",
        lbrace => "`{`",
        rbrace => "`}`",
        use_names => "`{`",
        template_ref => "`template`",
        _ => return None,
    })
}

/// Words that start a top-level declaration; when all of them are expected,
/// the message says "a declaration" instead of listing nine keywords.
const DECLARATIONS: &[Rule] = &[
    Rule::kw_use,
    Rule::kw_role,
    Rule::kw_calendar,
    Rule::kw_matrix,
    Rule::kw_template,
    Rule::kw_tag,
    Rule::kw_record,
    Rule::kw_process,
    Rule::kw_document,
];

fn join_or(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => one.to_string(),
        [init @ .., last] => format!("{} or {}", init.join(", "), last),
    }
}

/// A short, printable description of the text at `pos`.
fn found_at(text: &str, pos: usize) -> String {
    let rest = text.get(pos..).unwrap_or("");
    let Some(first) = rest.chars().next() else {
        return "the end of the file".to_string();
    };
    if first == '\n' || first == '\r' {
        return "the end of the line".to_string();
    }
    let word: String = if first.is_alphanumeric() || first == '_' {
        rest.chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .take(40)
            .collect()
    } else {
        first.to_string()
    };
    if word.chars().any(|c| c.is_control()) {
        format!("the character {:?}", first)
    } else {
        format!("`{word}`")
    }
}

/// The length in bytes of the token at `pos`, for the label's span.
fn token_len(text: &str, pos: usize) -> usize {
    let rest = text.get(pos..).unwrap_or("");
    match rest.chars().next() {
        None => 0,
        Some(c) if c.is_alphanumeric() || c == '_' => rest
            .char_indices()
            .find(|(_, c)| !(c.is_alphanumeric() || *c == '_'))
            .map(|(i, _)| i)
            .unwrap_or(rest.len()),
        Some(c) => c.len_utf8(),
    }
}

/// The diagnostics for a file pest could not parse: braces that do not pair
/// up are reported where they are (E0106), since pest only notices them
/// where it gets lost, often lines later; otherwise pest's own error.
pub fn from_pest_all(file: FileId, text: &str, err: &Error<Rule>) -> Vec<Diagnostic> {
    let pos = error_pos(text, err);
    let mut diags = Vec::new();
    let braces = brace_imbalance(text).map(|b| b.diagnostic(file));
    match braces {
        // An unrelated error earlier in the file comes first.
        Some(b) if (b.primary.span.start as usize) <= pos => diags.push(b),
        Some(b) => {
            diags.push(from_pest(file, text, err));
            diags.push(b);
        }
        None => diags.push(from_pest(file, text, err)),
    }
    diags
}

fn error_pos(text: &str, err: &Error<Rule>) -> usize {
    let pos = match err.location {
        InputLocation::Pos(p) => p,
        InputLocation::Span((s, _)) => s,
    };
    let mut pos = pos.min(text.len());
    while !text.is_char_boundary(pos) {
        pos -= 1;
    }
    pos
}

/// A brace without its partner.
#[derive(Debug, PartialEq, Eq)]
enum Imbalance {
    /// The byte offset of a `{` that is never closed.
    Unclosed(usize),
    /// The byte offset of a `}` that closes nothing.
    Unopened(usize),
}

impl Imbalance {
    fn diagnostic(&self, file: FileId) -> Diagnostic {
        match *self {
            Imbalance::Unclosed(at) => {
                Diagnostic::new("E0106", Span::new(file, at, at + 1), "unclosed `{`")
                    .label("this `{` is never closed")
                    .help("add the missing `}` after the last item of this block")
            }
            Imbalance::Unopened(at) => {
                Diagnostic::new("E0106", Span::new(file, at, at + 1), "unmatched `}`")
                    .label("this `}` closes nothing")
                    .help("remove this `}`, or add the `{` it was meant to close")
            }
        }
    }
}

/// The indentation of the line holding `pos`, if only whitespace precedes
/// `pos` on that line (a brace that starts its line).
fn leading_indent(text: &str, pos: usize) -> Option<usize> {
    let line_start = text[..pos].rfind('\n').map(|i| i + 1).unwrap_or(0);
    let before = &text[line_start..pos];
    before
        .chars()
        .all(|c| c == ' ' || c == '\t')
        .then_some(before.len())
}

/// The indentation of the line holding `pos`.
fn line_indent(text: &str, pos: usize) -> usize {
    let line_start = text[..pos].rfind('\n').map(|i| i + 1).unwrap_or(0);
    text[line_start..]
        .chars()
        .take_while(|c| *c == ' ' || *c == '\t')
        .count()
}

/// Pairs the braces of a file, skipping strings, comments and backtick
/// guards, and names the brace that lacks a partner. When the braces still
/// balance by count, indentation decides which brace the designer forgot:
/// a `}` that starts its line less indented than the line of the `{` it
/// closes suggests that this `{` was never closed (and more indented, that
/// the `}` is one too many).
fn brace_imbalance(text: &str) -> Option<Imbalance> {
    let bytes = text.as_bytes();
    let mut open: Vec<usize> = Vec::new();
    let mut suspect_unclosed = None;
    let mut suspect_extra = None;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                // Strings end at their quote or, unclosed, at the line's end.
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' && bytes[i] != b'\n' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'`' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'`' {
                    i += 1;
                }
            }
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i < bytes.len() && !(bytes[i] == b'*' && bytes.get(i + 1) == Some(&b'/')) {
                    i += 1;
                }
                i += 1;
            }
            b'{' => open.push(i),
            b'}' => {
                let Some(opened) = open.pop() else {
                    return Some(Imbalance::Unopened(suspect_extra.unwrap_or(i)));
                };
                let same_line = !text[opened..i].contains('\n');
                if let (false, Some(close_indent)) = (same_line, leading_indent(text, i)) {
                    let open_indent = line_indent(text, opened);
                    if close_indent < open_indent && suspect_unclosed.is_none() {
                        suspect_unclosed = Some(opened);
                    }
                    if close_indent > open_indent && suspect_extra.is_none() {
                        suspect_extra = Some(i);
                    }
                }
            }
            _ => {}
        }
        i += 1;
    }
    let innermost = *open.last()?;
    Some(Imbalance::Unclosed(suspect_unclosed.unwrap_or(innermost)))
}

pub fn from_pest(file: FileId, text: &str, err: &Error<Rule>) -> Diagnostic {
    let pos = error_pos(text, err);
    let span = Span::new(file, pos, pos + token_len(text, pos));

    // A quote left open on this line makes the parser stumble at its end;
    // say that instead of what the parser expected there.
    if let Some(quote) = unclosed_quote(text, pos) {
        return Diagnostic::new("E0102", Span::new(file, quote, quote + 1), "unterminated string")
            .label("this string is never closed")
            .help("add the closing `\"` on the same line (strings cannot span lines; write `\\n` for a line break)");
    }

    let positives = match &err.variant {
        ErrorVariant::ParsingError { positives, .. } => positives.clone(),
        ErrorVariant::CustomError { .. } => Vec::new(),
    };
    let mut expected: Vec<&str> = Vec::new();
    let declarations = DECLARATIONS.iter().all(|r| positives.contains(r));
    if declarations {
        expected.push("a declaration (`process`, `record`, `role`, `use`, …)");
    }
    for rule in &positives {
        if declarations && DECLARATIONS.contains(rule) {
            continue;
        }
        if let Some(words) = describe(*rule) {
            if !expected.contains(&words) {
                expected.push(words);
            }
        }
    }
    let found = found_at(text, pos);
    let message = if expected.is_empty() {
        format!("unexpected {found}")
    } else {
        format!("expected {}, found {found}", join_or(&expected))
    };
    let mut diag = Diagnostic::new("E0101", span, message).label(if expected.is_empty() {
        "not expected here".to_string()
    } else {
        format!("expected {} here", join_or(&expected))
    });
    let help = help_for(&positives, text, pos)
        .unwrap_or_else(|| generic_help(&expected, text, pos, &found));
    diag = diag.help(help);
    diag
}

/// The opening quote of a string left open on the line of `pos`, if the
/// string starts at or before `pos`.
fn unclosed_quote(text: &str, pos: usize) -> Option<usize> {
    let line_start = text[..pos].rfind('\n').map(|i| i + 1).unwrap_or(0);
    let line_end = text[pos..]
        .find('\n')
        .map(|i| pos + i)
        .unwrap_or(text.len());
    let line = &text[line_start..line_end];
    let mut open: Option<usize> = None;
    let mut chars = line.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' if open.is_some() => {
                chars.next();
            }
            '"' => {
                open = if open.is_some() {
                    None
                } else {
                    Some(line_start + i)
                }
            }
            '/' if open.is_none() && line[i..].starts_with("//") => break,
            _ => {}
        }
    }
    open.filter(|&q| q <= pos)
}

/// A targeted hint for the most common slips.
fn help_for(positives: &[Rule], text: &str, pos: usize) -> Option<String> {
    let rest = text.get(pos..).unwrap_or("");
    if positives.contains(&Rule::duration_unit) {
        return Some("durations need a unit: `30m`, `4h`, `3d`, `2w` or `6 months`".into());
    }
    if rest.starts_with(':') || rest.starts_with(';') {
        return Some(
            "pdca needs no `:` or `;` between items; put each item on its own line".into(),
        );
    }
    if positives.contains(&Rule::kw_for) {
        return Some("a process names its record type: `process incident \"Incident management\" for Incident { … }`".into());
    }
    if rest.starts_with('}') {
        return Some(if DECLARATIONS.iter().all(|r| positives.contains(r)) {
            "this `}` closes nothing: remove it, or look for a missing `{` above".into()
        } else {
            "the line above is incomplete".into()
        });
    }
    if positives.contains(&Rule::EOI) && DECLARATIONS.iter().all(|r| positives.contains(r)) {
        return Some("a file holds declarations such as `process`, `record`, `role`, `calendar`, `document` and `use`".into());
    }
    None
}

/// The help when no targeted hint fits: what to write, or what to remove.
/// Every syntax error gets a help line.
fn generic_help(expected: &[&str], text: &str, pos: usize, found: &str) -> String {
    let at_end = text.get(pos..).is_none_or(|rest| rest.trim().is_empty());
    if at_end {
        return "the file ends in the middle of a declaration: complete it, or remove the unfinished part".into();
    }
    let what = match expected {
        [] => None,
        [one] => Some(one.to_string()),
        _ if expected.len() <= 4 => Some(format!("one of {}", join_or(expected))),
        _ => None,
    };
    match (what, found == "the end of the line") {
        (Some(what), true) => format!("the line is incomplete: add {what} at its end"),
        (Some(what), false) => format!("write {what} before {found}, or remove {found}"),
        (None, true) => {
            "the line is incomplete: compare it with the examples in `pdca explain E0101`".into()
        }
        (None, false) => format!("{found} does not fit here: check its spelling, or remove it"),
    }
}
