//! SLA clocks: how long an instance has spent inside an SLA's span.
//!
//! Semantics (applied in the transaction of every state entry: `start`,
//! `fire`, an approval's outcome, a timer):
//!
//! - a clock **starts** when the instance enters one of the SLA's `from`
//!   states and the clock is not already running or paused (a stopped clock
//!   starts afresh);
//! - it **stops** on entering an `until` state: status `met`, or
//!   `breached` if it already passed its target;
//! - it **pauses** on entering a `pause` state (the segment's elapsed time
//!   is added to the clock's sums) and **resumes** on entering any other
//!   state that is not an `until` state;
//! - each target has its own **metric**: a duration written with
//!   `business` counts the working time of the SLA's `calendar`
//!   ([`BusinessCalendar::between`]); one written without it (`15 min`,
//!   `4h`) counts wall-clock time, even when the SLA names a calendar. A
//!   clock keeps both sums for its finished segments (`wall_us`,
//!   `business_us`, exact to the microsecond), so re-targeting to an entry
//!   of the other metric loses nothing; elapsed, remaining, warnings and
//!   the breach follow the metric of the current target. Minutes are only
//!   a display unit: nothing is rounded when a state is entered;
//! - the target is `target D` or, for `target by FIELD { … }`, the entry
//!   for the record's value of FIELD (no entry: the clock does not start).
//!   Durations count as minutes (h = 60, d = 1440, w = 10080), except that on
//!   a calendar `N business days` is N average working days of it and `N
//!   business weeks` N working weeks; months and years are not supported as
//!   targets. When the field changes while the
//!   clock runs, the clock is re-targeted (with the new entry's metric);
//! - `due_at` is when the remaining target time elapses from the start of
//!   the running segment ([`BusinessCalendar::add`] of the remaining
//!   time in the target's metric). [`crate::runtime::Engine::tick`] marks clocks due at
//!   its `now` as breached, appending a `breach` event (patch `{sla}`, by
//!   [`CLOCK_ACTOR`]). A breached clock keeps running until an `until`
//!   state stops it (status `breached`);
//! - **warn thresholds** (`warn at P% notify R`): `warned` counts the
//!   thresholds reached in this run of the clock (a clock that starts
//!   afresh starts at 0) and `warn_at` is when the next one is reached:
//!   P% of the target, rounded up to a whole minute, from the start of the
//!   running segment. `tick` appends one `warn` event per threshold (patch
//!   `{sla, percent}`, by [`CLOCK_ACTOR`]) and writes the warn roles'
//!   notifications. A paused or stopped clock has no `warn_at` and never
//!   warns; re-targeting recomputes it (a threshold the new target puts in
//!   the past is due at once; one already reached is not repeated);
//! - the indexed `due_at` is the earlier of the next warning and the
//!   breach, so `tick` finds both through one index; the breach time itself
//!   is derived ([`breach_due`]) and shown as the clock's `due_at`.

use jiff::Timestamp;
use serde::Serialize;
use serde_json::Value;

use super::calendar::BusinessCalendar;
use super::error::RuntimeError;
use super::store::{ClockRow, Tx};
use super::values::Record;
use crate::ir::{self, Process, Sla, Target};

/// The actor of `breach` events.
pub const CLOCK_ACTOR: &str = "system:clock";

/// The event kind `tick` appends when a clock passes its target.
pub const KIND_BREACH: &str = "breach";

/// The event kind `tick` appends when a clock reaches a warn threshold.
pub const KIND_WARN: &str = "warn";

/// One SLA clock as shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(as = Clock)]
pub struct ClockView {
    pub sla: String,
    /// `running`, `paused`, `met` or `breached`.
    pub status: String,
    /// Whether it passed its target (also while still running).
    pub breached: bool,
    /// What the current target counts: `business` (the working time of the
    /// SLA's calendar) or `wall` (wall-clock time, around the clock).
    pub metric: String,
    /// Target, in minutes of the metric.
    pub target_minutes: i64,
    /// Whole minutes of the metric elapsed at the time asked about.
    pub elapsed_minutes: i64,
    /// Minutes left, rounded up (zero once the target is passed).
    pub remaining_minutes: i64,
    /// Elapsed time in whole seconds of the metric (exact to the
    /// microsecond inside the clock).
    pub elapsed_seconds: i64,
    /// Seconds left, rounded up (zero once the target is passed).
    pub remaining_seconds: i64,
    pub started_at: String,
    /// When the target is passed if the clock keeps running.
    pub due_at: Option<String>,
    /// Warn thresholds reached in this run, as written (`75%`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// When the next warn threshold is reached if the clock keeps running.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_warning_at: Option<String>,
}

/// Microseconds in a minute.
const MINUTE_US: i64 = 60_000_000;

fn corrupt(what: &str, reason: impl std::fmt::Display) -> RuntimeError {
    RuntimeError::Corrupt {
        what: what.to_string(),
        reason: reason.to_string(),
    }
}

pub(crate) fn parse_ts(text: &str) -> Result<Timestamp, RuntimeError> {
    text.parse()
        .map_err(|e: jiff::Error| corrupt(&format!("timestamp `{text}`"), e))
}

fn ts_text(t: Timestamp) -> String {
    format!("{t:.6}")
}

/// The SLA's calendar, if it names one.
fn calendar(process: &Process, sla: &Sla) -> Result<Option<BusinessCalendar>, RuntimeError> {
    let Some(name) = &sla.calendar else {
        return Ok(None);
    };
    let cal = process
        .calendars
        .iter()
        .find(|c| &c.name == name)
        .ok_or_else(|| corrupt(&format!("SLA `{}`", sla.name), "unknown calendar"))?;
    BusinessCalendar::new(cal)
        .map(Some)
        .map_err(|e| corrupt(&format!("calendar `{name}`"), e))
}

/// The calendar a clock counts on: the SLA's, if the current target is a
/// `business` duration; `None` (wall-clock time) otherwise.
fn metric<'a>(cal: Option<&'a BusinessCalendar>, c: &ClockRow) -> Option<&'a BusinessCalendar> {
    cal.filter(|_| c.business)
}

fn micros(d: jiff::SignedDuration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

/// Time elapsed in `[start, end)` as (wall-clock, working time on `cal`)
/// microseconds; working time is wall-clock time without a calendar.
fn segment(cal: Option<&BusinessCalendar>, start: Timestamp, end: Timestamp) -> (i64, i64) {
    if end <= start {
        return (0, 0);
    }
    let wall = micros(end.duration_since(start));
    let business = match cal {
        Some(c) => micros(c.between(start, end)),
        None => wall,
    };
    (wall, business)
}

/// The instant `us` microseconds of the metric after `start`.
fn add(
    cal: Option<&BusinessCalendar>,
    start: Timestamp,
    us: i64,
) -> Result<Timestamp, RuntimeError> {
    let d = jiff::SignedDuration::from_micros(us.max(0));
    match cal {
        Some(c) => c
            .add_working(start, d)
            .map_err(|e| corrupt("clock due time", e)),
        None => start
            .checked_add(d)
            .map_err(|e| corrupt("clock due time", e)),
    }
}

/// The duration `sla` targets for `record`; `None` when a `target by` has
/// no entry for the field's value.
fn target_duration<'a>(sla: &'a Sla, record: &Record) -> Option<&'a ir::Duration> {
    match &sla.target {
        Target::Fixed { duration } => Some(duration),
        Target::ByField { field, targets } => {
            let value = match record.get(field)? {
                Value::String(s) => s.clone(),
                Value::Null => return None,
                other => other.to_string(),
            };
            Some(&targets.iter().find(|(k, _)| *k == value)?.1)
        }
    }
}

/// The target of `sla` for `record`, in minutes, and whether it counts
/// working time (a `business` duration on a calendar); `None` when a
/// `target by` has no entry for the field's value. On a calendar, `N
/// business days` is N average working days of it (9h each for
/// 08:30-17:30) and `N business weeks` N working weeks; other units are
/// their fixed length.
pub fn target_minutes(
    sla: &Sla,
    record: &Record,
    cal: Option<&BusinessCalendar>,
) -> Option<(i64, bool)> {
    let d = target_duration(sla, record)?;
    let amount = i64::try_from(d.amount).ok()?;
    let minutes = match (cal, d.business, d.unit) {
        (Some(c), true, ir::DurationUnit::Days) => amount.checked_mul(c.working_day_minutes()),
        (Some(c), true, ir::DurationUnit::Weeks) => amount.checked_mul(c.weekly_working_minutes()),
        _ => d.fixed_minutes().and_then(|m| i64::try_from(m).ok()),
    }?;
    Some((minutes, d.business && cal.is_some()))
}

/// The finished segments of a clock in its current metric.
fn accumulated(c: &ClockRow) -> i64 {
    if c.business {
        c.business_us
    } else {
        c.wall_us
    }
}

/// Elapsed microseconds of a clock at `now`, in its current metric.
fn elapsed(
    cal: Option<&BusinessCalendar>,
    c: &ClockRow,
    now: Timestamp,
) -> Result<i64, RuntimeError> {
    Ok(match (&c.status[..], &c.segment_started_at) {
        ("running", Some(seg)) => {
            let (wall, business) = segment(metric(cal, c), parse_ts(seg)?, now);
            accumulated(c).saturating_add(if c.business { business } else { wall })
        }
        _ => accumulated(c),
    })
}

/// Adds the running segment up to `now` to both sums and starts a new one
/// there (or none, when the clock stops running).
fn close_segment(
    cal: Option<&BusinessCalendar>,
    c: &mut ClockRow,
    now: Timestamp,
    next: Option<&str>,
) -> Result<(), RuntimeError> {
    if let ("running", Some(seg)) = (&c.status[..], &c.segment_started_at) {
        let (wall, business) = segment(cal, parse_ts(seg)?, now);
        c.wall_us = c.wall_us.saturating_add(wall);
        c.business_us = c.business_us.saturating_add(business);
    }
    c.segment_started_at = next.map(str::to_string);
    Ok(())
}

/// The target of a clock in microseconds.
fn target_us(c: &ClockRow) -> i64 {
    c.target.saturating_mul(MINUTE_US)
}

/// The minute of the target at which `warn at percent%` is reached.
pub fn warn_minutes(target: i64, percent: f64) -> i64 {
    // Round away float noise first: 75% of 240 is 180, not 180.00000000000003.
    let exact = (target as f64 * percent / 100.0 * 1e6).round() / 1e6;
    exact.ceil() as i64
}

/// When a running, not yet breached clock passes its target.
pub(crate) fn breach_due(
    cal: Option<&BusinessCalendar>,
    c: &ClockRow,
) -> Result<Option<Timestamp>, RuntimeError> {
    match (&c.status[..], &c.segment_started_at, c.breached) {
        ("running", Some(seg), false) => Ok(Some(add(
            metric(cal, c),
            parse_ts(seg)?,
            target_us(c).saturating_sub(accumulated(c)),
        )?)),
        _ => Ok(None),
    }
}

/// Recomputes `warn_at` (the next threshold not yet reached) and `due_at`
/// (the earlier of it and the breach) of a running, not yet breached
/// clock; both are `None` otherwise.
fn schedule(
    cal: Option<&BusinessCalendar>,
    sla: &Sla,
    c: &mut ClockRow,
) -> Result<(), RuntimeError> {
    let breach = breach_due(cal, c)?;
    let warn = match (&breach, &c.segment_started_at) {
        (Some(_), Some(seg)) => match usize::try_from(c.warned)
            .ok()
            .and_then(|i| sla.warns.get(i))
        {
            Some(w) => Some(add(
                metric(cal, c),
                parse_ts(seg)?,
                warn_minutes(c.target, w.percent)
                    .saturating_mul(MINUTE_US)
                    .saturating_sub(accumulated(c)),
            )?),
            None => None,
        },
        _ => None,
    };
    c.warn_at = warn.map(ts_text);
    c.due_at = match (warn, breach) {
        (Some(w), Some(b)) => Some(ts_text(w.min(b))),
        (w, b) => w.or(b).map(ts_text),
    };
    Ok(())
}

/// What a clock claimed as due at `now` has reached first.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum DueStep {
    /// The warn threshold `index` of the SLA (`warn_at` is its time).
    Warn { index: usize, at: String },
    /// The target (the breach time).
    Breach { at: String },
    /// Nothing (the clock changed since it was claimed): `due_at` is
    /// recomputed.
    Nothing,
}

/// The next thing a clock reaches by `now`: a warning comes before the
/// breach it precedes.
pub(crate) fn due_step(
    process: &Process,
    sla: &Sla,
    c: &ClockRow,
    now: Timestamp,
) -> Result<DueStep, RuntimeError> {
    let cal = calendar(process, sla)?;
    let Some(breach) = breach_due(cal.as_ref(), c)? else {
        return Ok(DueStep::Nothing);
    };
    if let (Some(warn_at), Ok(index)) = (&c.warn_at, usize::try_from(c.warned)) {
        let w = parse_ts(warn_at)?;
        if index < sla.warns.len() && w <= now && w < breach {
            return Ok(DueStep::Warn {
                index,
                at: warn_at.clone(),
            });
        }
    }
    if breach <= now {
        return Ok(DueStep::Breach {
            at: ts_text(breach),
        });
    }
    Ok(DueStep::Nothing)
}

/// Records that the clock reached its next warn threshold and schedules
/// the one after (or the breach).
pub(crate) fn warned(process: &Process, sla: &Sla, c: &mut ClockRow) -> Result<(), RuntimeError> {
    c.warned += 1;
    let cal = calendar(process, sla)?;
    schedule(cal.as_ref(), sla, c)
}

/// When the clock passes its target if it keeps running (text), if it runs.
pub(crate) fn breach_at(
    process: &Process,
    sla: &Sla,
    c: &ClockRow,
) -> Result<Option<String>, RuntimeError> {
    let cal = calendar(process, sla)?;
    Ok(breach_due(cal.as_ref(), c)?.map(ts_text))
}

/// Recomputes the due times of a clock that was claimed with nothing due.
pub(crate) fn reschedule(
    process: &Process,
    sla: &Sla,
    c: &mut ClockRow,
) -> Result<(), RuntimeError> {
    let cal = calendar(process, sla)?;
    schedule(cal.as_ref(), sla, c)
}

/// Updates the clocks of instance `id`, which just entered `state` at `at`
/// with `record` (see the module documentation).
pub(crate) async fn on_entry<T: Tx>(
    tx: &mut T,
    process: &Process,
    id: i64,
    state: &str,
    record: &Record,
    at: &str,
) -> Result<(), RuntimeError> {
    if process.slas.is_empty() {
        return Ok(());
    }
    let now = parse_ts(at)?;
    let existing = tx.clocks(id).await?;
    for sla in &process.slas {
        let cal = calendar(process, sla)?;
        let cal = cal.as_ref();
        let old = existing.iter().find(|c| c.sla == sla.name).cloned();
        let active = old
            .as_ref()
            .filter(|c| c.status == "running" || c.status == "paused");
        let has = |list: &[String]| list.iter().any(|s| s == state);
        let new = if let Some(c) = active {
            let mut c = c.clone();
            if has(&sla.until) || has(&sla.pause) {
                close_segment(cal, &mut c, now, None)?;
                c.status = if has(&sla.pause) {
                    "paused".into()
                } else if c.breached || accumulated(&c) >= target_us(&c) {
                    c.breached = true;
                    "breached".into()
                } else {
                    "met".into()
                };
            } else {
                // Running on: the segment so far is added exactly and a new
                // one starts now, so due_at counts from here.
                close_segment(cal, &mut c, now, Some(at))?;
                c.status = "running".into();
            }
            if let Some((t, business)) = target_minutes(sla, record, cal) {
                c.target = t;
                c.business = business;
            }
            schedule(cal, sla, &mut c)?;
            Some(c)
        } else if has(&sla.from) {
            match target_minutes(sla, record, cal) {
                None => None,
                Some((target, business)) => {
                    let mut c = ClockRow {
                        instance_id: id,
                        sla: sla.name.clone(),
                        status: "running".into(),
                        started_at: at.to_string(),
                        wall_us: 0,
                        business_us: 0,
                        business,
                        segment_started_at: Some(at.to_string()),
                        target,
                        due_at: None,
                        warn_at: None,
                        warned: 0,
                        breached: false,
                    };
                    schedule(cal, sla, &mut c)?;
                    Some(c)
                }
            }
        } else {
            None
        };
        if let Some(c) = new {
            if Some(&c) != old.as_ref() {
                tx.put_clock(&c).await?;
            }
        }
    }
    Ok(())
}

/// Marks a clock claimed as due breached (no more due time: warnings not
/// reached by then are moot).
pub(crate) fn breach(c: &mut ClockRow) {
    c.breached = true;
    c.due_at = None;
    c.warn_at = None;
}

/// `a / b` rounded up, for non-negative `a` and positive `b`.
fn div_ceil(a: i64, b: i64) -> i64 {
    a / b + i64::from(a % b != 0)
}

/// The clocks of an instance as of `now`.
pub(crate) fn views(
    process: &Process,
    rows: &[ClockRow],
    now: Timestamp,
) -> Result<Vec<ClockView>, RuntimeError> {
    let mut out = Vec::with_capacity(rows.len());
    for c in rows {
        let sla = process.slas.iter().find(|s| s.name == c.sla);
        let cal = match sla {
            Some(s) => calendar(process, s)?,
            None => None,
        };
        let elapsed = elapsed(cal.as_ref(), c, now)?.max(0);
        let remaining = target_us(c).saturating_sub(elapsed).max(0);
        let reached = usize::try_from(c.warned).unwrap_or(0);
        let warnings = sla
            .map(|s| {
                s.warns
                    .iter()
                    .take(reached)
                    .map(|w| format!("{}%", w.percent))
                    .collect()
            })
            .unwrap_or_default();
        out.push(ClockView {
            sla: c.sla.clone(),
            status: c.status.clone(),
            breached: c.breached || (c.status == "running" && elapsed >= target_us(c)),
            metric: if metric(cal.as_ref(), c).is_some() {
                "business".into()
            } else {
                "wall".into()
            },
            target_minutes: c.target,
            elapsed_minutes: elapsed / MINUTE_US,
            remaining_minutes: div_ceil(remaining, MINUTE_US),
            elapsed_seconds: elapsed / 1_000_000,
            remaining_seconds: div_ceil(remaining, 1_000_000),
            started_at: c.started_at.clone(),
            due_at: breach_due(cal.as_ref(), c)?.map(ts_text),
            warnings,
            next_warning_at: c.warn_at.clone(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sla(amount: u64, unit: ir::DurationUnit, business: bool) -> Sla {
        Sla {
            name: "s".into(),
            title: None,
            from: vec!["a".into()],
            until: vec!["b".into()],
            pause: vec![],
            calendar: Some("office".into()),
            target: Target::Fixed {
                duration: ir::Duration {
                    amount,
                    unit,
                    business,
                },
            },
            warns: vec![],
            breach_escalate_to: vec![],
            breach_template: None,
            origin: ir::Origin::default(),
        }
    }

    #[test]
    fn business_days_are_working_days_of_the_calendar() {
        let cal = BusinessCalendar::new(&ir::Calendar {
            name: "office".into(),
            zone: "Europe/London".into(),
            week: vec![
                vec![(540, 1020)],
                vec![(540, 1020)],
                vec![(540, 1020)],
                vec![(540, 1020)],
                vec![(540, 1020)],
                vec![],
                vec![],
            ],
            holidays: vec![],
        })
        .expect("calendar");
        let record = Record::new();
        let days = sla(3, ir::DurationUnit::Days, true);
        assert_eq!(
            target_minutes(&days, &record, Some(&cal)),
            Some((3 * 480, true))
        );
        let weeks = sla(1, ir::DurationUnit::Weeks, true);
        assert_eq!(
            target_minutes(&weeks, &record, Some(&cal)),
            Some((5 * 480, true))
        );
        // Plain durations count wall-clock time, even on a calendar.
        let hours = sla(4, ir::DurationUnit::Hours, false);
        assert_eq!(
            target_minutes(&hours, &record, Some(&cal)),
            Some((240, false))
        );
        let plain_days = sla(1, ir::DurationUnit::Days, false);
        assert_eq!(
            target_minutes(&plain_days, &record, Some(&cal)),
            Some((1440, false))
        );
        // Without a calendar, working time is wall-clock time.
        let business_hours = sla(2, ir::DurationUnit::Hours, true);
        assert_eq!(
            target_minutes(&business_hours, &record, None),
            Some((120, false))
        );
    }

    #[test]
    fn warn_thresholds_round_up_to_a_minute() {
        assert_eq!(warn_minutes(240, 75.0), 180);
        assert_eq!(warn_minutes(15, 75.0), 12); // 11.25
        assert_eq!(warn_minutes(100, 50.0), 50);
    }
}
