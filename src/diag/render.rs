//! Renders diagnostics: ariadne reports for people, one JSON object per line
//! for machines.

use std::collections::HashMap;
use std::fmt;

use ariadne::{Cache, Color, Config, IndexType, Label as AriadneLabel, Report, ReportKind, Source};
use serde::Serialize;

use super::{Diagnostic, Severity};
use crate::source::SourceMap;
use crate::syntax::span::{FileId, Span};

/// Ariadne's source key: a file and a section number. Ariadne titles every
/// section of a file with the primary location, even a section that shows an
/// earlier line; a related label that would land in such a section gets a key
/// of its own, so its section is titled with its own `file:line:column`.
type Key = (FileId, usize);

/// Serves the compilation's files to ariadne without copying them.
struct MapCache<'a> {
    map: &'a SourceMap,
    built: HashMap<FileId, Source<&'a str>>,
}

impl<'a> Cache<Key> for MapCache<'a> {
    type Storage = &'a str;

    fn fetch(&mut self, id: &Key) -> Result<&Source<&'a str>, impl fmt::Debug> {
        let map = self.map;
        let source = self
            .built
            .entry(id.0)
            .or_insert_with(|| Source::from(map.get(id.0).text.as_str()));
        Ok::<_, String>(source)
    }

    fn display<'b>(&self, id: &'b Key) -> Option<impl fmt::Display + 'b> {
        Some(self.map.get(id.0).name.clone())
    }
}

/// A span as ariadne wants it: a key and a range of characters (not bytes;
/// ariadne titles sections other than the primary one by a character offset).
fn char_range(map: &SourceMap, span: Span) -> std::ops::Range<usize> {
    let text = &map.get(span.file).text;
    let chars = |byte: usize| {
        let mut b = byte.min(text.len());
        while !text.is_char_boundary(b) {
            b -= 1;
        }
        text[..b].chars().count()
    };
    chars(span.start as usize)..chars(span.end as usize)
}

/// The line ariadne groups a label by: the line of its last character.
fn end_line(map: &SourceMap, span: Span) -> usize {
    let end = if span.end > span.start {
        span.end - 1
    } else {
        span.start
    };
    map.get(span.file).line_col(end as usize).0
}

/// Section keys for the primary label and then each related label, in the
/// order ariadne groups them: a label joins the section before it when it is
/// in the same file on the same or a later line, and starts a new one
/// otherwise.
fn section_keys(map: &SourceMap, d: &Diagnostic) -> Vec<Key> {
    let mut keys = Vec::with_capacity(1 + d.secondary.len());
    let primary = d.primary.span;
    let mut current: Key = (primary.file, 0);
    let mut last_line = end_line(map, primary);
    keys.push(current);
    for (i, s) in d.secondary.iter().enumerate() {
        let line = end_line(map, s.span);
        if s.span.file != current.0 || line < last_line {
            current = (s.span.file, i + 1);
        }
        last_line = line;
        keys.push(current);
    }
    keys
}

/// Renders diagnostics for a terminal (or, with `color: false`, for logs and snapshots).
pub fn human(map: &SourceMap, diags: &[Diagnostic], color: bool) -> String {
    let mut cache = MapCache {
        map,
        built: HashMap::new(),
    };
    let mut out = Vec::new();
    for d in diags {
        let kind = match d.severity() {
            Severity::Error => ReportKind::Error,
            Severity::Warning => ReportKind::Warning,
        };
        let primary_color = match d.severity() {
            Severity::Error => Color::Red,
            Severity::Warning => Color::Yellow,
        };
        let keys = section_keys(map, d);
        let span = (keys[0], char_range(map, d.primary.span));
        let mut label = AriadneLabel::new(span.clone()).with_color(primary_color);
        if !d.primary.message.is_empty() {
            label = label.with_message(&d.primary.message);
        }
        let mut builder = Report::build(kind, span)
            .with_config(
                Config::default()
                    .with_color(color)
                    .with_index_type(IndexType::Char),
            )
            .with_code(d.code)
            .with_message(&d.message)
            .with_label(label);
        for (s, key) in d.secondary.iter().zip(&keys[1..]) {
            builder = builder.with_label(
                AriadneLabel::new((*key, char_range(map, s.span)))
                    .with_message(&s.message)
                    .with_color(Color::Blue),
            );
        }
        if let Some(help) = &d.help {
            builder = builder.with_help(help);
        }
        for note in &d.notes {
            builder = builder.with_note(note);
        }
        // Writing into a Vec cannot fail; a failure would only lose this report.
        let _ = builder.finish().write(&mut cache, &mut out);
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The machine-readable shape of a diagnostic (`pdca check --format json`).
#[derive(Debug, Serialize)]
pub struct JsonDiagnostic<'a> {
    pub code: &'a str,
    pub severity: Severity,
    pub message: &'a str,
    pub file: &'a str,
    pub line: usize,
    pub column: usize,
    pub end_line: usize,
    pub end_column: usize,
    pub label: &'a str,
    pub help: Option<&'a str>,
    pub notes: &'a [String],
    /// Other places the diagnostic points at (first definition, cause…).
    pub related: Vec<JsonLabel<'a>>,
}

#[derive(Debug, Serialize)]
pub struct JsonLabel<'a> {
    pub file: &'a str,
    pub line: usize,
    pub column: usize,
    pub message: &'a str,
}

pub fn to_json<'a>(map: &'a SourceMap, d: &'a Diagnostic) -> JsonDiagnostic<'a> {
    let file = map.get(d.primary.span.file);
    let (line, column) = file.line_col(d.primary.span.start as usize);
    let (end_line, end_column) = file.line_col(d.primary.span.end as usize);
    JsonDiagnostic {
        code: d.code,
        severity: d.severity(),
        message: &d.message,
        file: &file.name,
        line,
        column,
        end_line,
        end_column,
        label: &d.primary.message,
        help: d.help.as_deref(),
        notes: &d.notes,
        related: d
            .secondary
            .iter()
            .map(|l| {
                let (file, line, column) = map.locate(l.span);
                JsonLabel {
                    file,
                    line,
                    column,
                    message: &l.message,
                }
            })
            .collect(),
    }
}

/// One JSON object per line, one line per diagnostic.
pub fn json_lines(map: &SourceMap, diags: &[Diagnostic]) -> String {
    let mut out = String::new();
    for d in diags {
        if let Ok(line) = serde_json::to_string(&to_json(map, d)) {
            out.push_str(&line);
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A related label on an earlier line of the same file is titled with its
    /// own location, not the primary one's (README's E0501 example).
    #[test]
    fn related_label_on_an_earlier_line_gets_its_own_header() {
        let mut map = SourceMap::new();
        let text = "état one\nsecond line\nthird line\n".to_string();
        let id = map.add("x.pdca", text, false);
        let d = Diagnostic::new("E0202", Span::new(id, 22, 27), "duplicate")
            .label("again")
            .with_secondary(Span::new(id, 0, 5), "first");
        let out = human(&map, &[d], false);
        let headers: Vec<&str> = out.lines().filter(|l| l.contains("x.pdca:")).collect();
        assert_eq!(headers.len(), 2, "{out}");
        assert!(headers[0].contains("x.pdca:3:1"), "{out}");
        assert!(headers[1].contains("x.pdca:1:1"), "{out}");
    }

    /// A related label on a later line stays in the primary's section.
    #[test]
    fn related_label_on_a_later_line_shares_the_section() {
        let mut map = SourceMap::new();
        let id = map.add("x.pdca", "one\ntwo\nthree\n".to_string(), false);
        let d = Diagnostic::new("E0202", Span::new(id, 0, 3), "duplicate")
            .label("here")
            .with_secondary(Span::new(id, 8, 13), "and here");
        let out = human(&map, &[d], false);
        assert_eq!(out.matches("x.pdca:").count(), 1, "{out}");
    }
}
