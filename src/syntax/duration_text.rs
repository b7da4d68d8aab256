//! A duration written on its own (a command line argument, an API field),
//! read with the grammar's `duration` rule so that it accepts exactly what a
//! `.pdca` file accepts: `30m`, `4h`, `3d`, `2w`, `6 months`,
//! `5 business days`, `5d business`.

use pest::Parser as _;

use super::ast::{Duration, DurationUnit};
use super::parser::{PdcaParser, Rule};
use super::span::{FileId, Span};

use super::parser::{duration_unit, MAX_DURATION_AMOUNT as MAX_AMOUNT};

const EXAMPLES: &str = "write e.g. `30m`, `4h`, `3d`, `2w`, `6 months` or `5 business days`";

/// Parses `text` (surrounding whitespace allowed) as one duration. The
/// span of the result covers the trimmed text in a file id of `u32::MAX`,
/// since the text comes from no file. Errors are one lowercase line.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let trimmed = text.trim();
    let not_a_duration = || format!("`{trimmed}` is not a duration: {EXAMPLES}");
    let pair = PdcaParser::parse(Rule::duration, trimmed)
        .map_err(|_| not_a_duration())?
        .next()
        .ok_or_else(not_a_duration)?;
    if pair.as_span().end() != trimmed.len() {
        return Err(not_a_duration());
    }
    let mut d = Duration {
        amount: 0,
        unit: DurationUnit::Days,
        business: false,
        span: Span::new(FileId(u32::MAX), 0, trimmed.len()),
    };
    // The same conversion as the file parser's (shared unit table and limit).
    for p in pair.into_inner() {
        match p.as_rule() {
            Rule::duration_amount => match p.as_str().parse::<u64>() {
                Ok(n) if n <= MAX_AMOUNT => d.amount = n,
                _ => {
                    return Err(format!(
                    "duration `{trimmed}` is too long: durations are limited to {MAX_AMOUNT} units"
                ))
                }
            },
            Rule::kw_business => d.business = true,
            Rule::duration_unit => d.unit = duration_unit(p.as_str()),
            _ => {}
        }
    }
    Ok(d)
}
