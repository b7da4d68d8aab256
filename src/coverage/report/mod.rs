//! Writers for the coverage report, one module per format.

pub mod junit;
pub mod markdown;
pub mod sarif;
pub mod text;

use super::Report;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
    Junit,
    Sarif,
    Markdown,
}

/// Renders a report.
pub fn render(report: &Report, format: Format) -> Result<String, String> {
    match format {
        Format::Text => Ok(text::render(report)),
        Format::Json => serde_json::to_string_pretty(report)
            .map(|s| s + "\n")
            .map_err(|e| e.to_string()),
        Format::Junit => junit::render(report),
        Format::Sarif => sarif::render(report),
        Format::Markdown => Ok(markdown::render(report)),
    }
}

fn status_word(s: super::ClauseStatus) -> &'static str {
    match s {
        super::ClauseStatus::Covered => "covered",
        super::ClauseStatus::Partial => "partial",
        super::ClauseStatus::Missing => "missing",
    }
}
