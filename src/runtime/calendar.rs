//! Business time over a compiled [`ir::Calendar`].
//!
//! A calendar says when work happens: working ranges per weekday in the
//! local time of an IANA zone, and holidays (local dates on which nothing is
//! worked). [`BusinessCalendar`] answers the questions the runtime asks of
//! it: when is a duration up ([`BusinessCalendar::add`]), how much working
//! time passed between two instants ([`BusinessCalendar::between`]), and is
//! an instant working time ([`BusinessCalendar::is_working`],
//! [`BusinessCalendar::next_working`]).
//!
//! # Semantics
//!
//! **Working time is what the wall clock shows.** A range `08:30-17:30` on a
//! Monday is the real time during which clocks in the zone show 08:30 to
//! 17:30 on that date; on a day with a daylight saving change inside a range,
//! that range is an hour shorter or longer in real time, and business minutes
//! are always real (elapsed) minutes. Ranges are half open: 17:30 itself is
//! not working time. `24:00` is the next midnight, so `mon-sun 00:00-24:00`
//! is working time around the clock. Overlapping or touching ranges of a
//! weekday are merged.
//!
//! **Durations** ([`BusinessCalendar::add`]):
//!
//! | duration | meaning |
//! |---|---|
//! | `N business minutes/hours` | the instant at which N minutes of working time have passed since `start`; a start outside working time begins counting at the next working instant; a result that lands exactly at the end of a working range is that end (Friday 17:30, not Monday 08:30) |
//! | `N business days` | the Nth working day after the day of the (next) working instant, at the same *position* in the working day: the working time (as shown on the wall clock) already worked that day before the start. With the same hours on both days this is the same local time: Friday 15:00 + 5 business days is the next Friday 15:00, each holiday in between pushes it a working day later. A position past the end of a shorter working day is the end of that day's last range. A start outside working time first moves to the next working instant (Saturday 10:00 + 1 business day = Tuesday 08:30) |
//! | `N business weeks` | N × (the number of weekdays with working hours) business days: a calendar week's worth of working days, so without holidays it lands on the same weekday at the same time (5 days for `mon-fri`, 6 for `mon-sat`, 7 around the clock) |
//! | `N business months/years` | refused ([`CalendarError::BusinessUnit`]): they have no fixed number of working days |
//! | `N minutes/hours` | exact elapsed time |
//! | `N days/weeks` | calendar days in the zone: the same local time N days later (23 or 25 real hours across a daylight saving change) |
//! | `N months/years` | calendar months, same local time; the day is clamped to the end of a shorter month (Jan 31 + 1 month = Feb 28) |
//!
//! A zero duration returns `start` unchanged, whatever the unit.
//!
//! **Local times that do not exist or repeat** at daylight saving changes:
//! - *Boundaries of working ranges* (e.g. a night shift starting at 01:30 on
//!   the day clocks jump from 01:00 to 02:00): a time in the gap is the
//!   instant the clock jumps (02:00 after the change), a repeated time is its
//!   first occurrence. This keeps ranges in order and never longer than the
//!   wall clock shows: a range `01:30-03:00` on that day is one real hour.
//! - *Single points* (a civil start time given by a user, the result of
//!   adding calendar days or months): jiff's `compatible` disambiguation
//!   (as in RFC 5545 and Temporal): a time in a gap is moved forward by the
//!   length of the gap (01:30 becomes 02:30), a repeated time is its first
//!   occurrence.
//!
//! **Efficiency and limits.** Days without working hours and holidays are
//! skipped without time zone lookups, whole working ranges are consumed in
//! one step, and runs of whole weeks with no holiday and no time zone
//! transition are skipped arithmetically, so a computation costs a few steps
//! per holiday and per daylight saving change, not per day. Searches stop
//! [`HORIZON_YEARS`] years after the start with [`CalendarError::Horizon`]
//! instead of looping (a calendar whose holidays cover years, or a duration
//! of a million business days). Working ranges at the very ends of the
//! dates jiff supports (years -9999 and 9999) are cut at those ends; a
//! result beyond them is [`CalendarError::OutOfRange`].

use std::collections::BTreeSet;
use std::fmt;

use jiff::civil::{Date, DateTime, Time};
use jiff::tz::{AmbiguousOffset, TimeZone};
use jiff::{SignedDuration, Span, Timestamp};

use crate::ir::{self, DurationUnit};

/// How far ahead of the start a search for working time may go.
pub const HORIZON_YEARS: i64 = 100;
const HORIZON_DAYS: i64 = HORIZON_YEARS * 366;

const DAY_MINUTES: u16 = 1_440;
const WEEKDAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// Why a calendar cannot be built or a duration cannot be added.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CalendarError {
    /// The zone is not in the IANA time zone database (or is empty).
    UnknownZone { calendar: String, zone: String },
    /// No weekday has working hours: business time would never pass.
    NoWorkingHours { calendar: String },
    /// The week lists more than seven days.
    BadWeek { calendar: String, days: usize },
    /// A working range that ends before it starts or after midnight.
    BadHours {
        calendar: String,
        weekday: usize,
        start: u16,
        end: u16,
    },
    /// A holiday that is not a `YYYY-MM-DD` date.
    BadHoliday { calendar: String, holiday: String },
    /// Business months and years: no fixed number of working days.
    BusinessUnit { unit: DurationUnit },
    /// No answer within [`HORIZON_YEARS`] years of `from` (a local date).
    Horizon { calendar: String, from: Date },
    /// The result is outside the range of dates jiff supports (years -9999 to 9999).
    OutOfRange,
}

fn hhmm(minutes: u16) -> String {
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

impl fmt::Display for CalendarError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CalendarError::UnknownZone { calendar, zone } if zone.is_empty() => {
                write!(f, "calendar `{calendar}` has no time zone")
            }
            CalendarError::UnknownZone { calendar, zone } => {
                write!(f, "calendar `{calendar}` has an unknown time zone `{zone}`")
            }
            CalendarError::NoWorkingHours { calendar } => {
                write!(f, "calendar `{calendar}` has no working hours")
            }
            CalendarError::BadWeek { calendar, days } => {
                write!(f, "calendar `{calendar}` lists {days} weekdays instead of 7")
            }
            CalendarError::BadHours {
                calendar,
                weekday,
                start,
                end,
            } => write!(
                f,
                "calendar `{calendar}` has invalid working hours {}-{} on {}",
                hhmm(*start),
                hhmm(*end),
                WEEKDAYS.get(*weekday).copied().unwrap_or("?")
            ),
            CalendarError::BadHoliday { calendar, holiday } => write!(
                f,
                "calendar `{calendar}` has a holiday `{holiday}` that is not a date (YYYY-MM-DD)"
            ),
            CalendarError::BusinessUnit { unit } => write!(
                f,
                "business time cannot be counted in {}: they have no fixed number of working days; use business days or weeks",
                match unit {
                    DurationUnit::Years => "years",
                    _ => "months",
                }
            ),
            CalendarError::Horizon { calendar, from } => write!(
                f,
                "no result within {HORIZON_YEARS} years of {from} in calendar `{calendar}`"
            ),
            CalendarError::OutOfRange => {
                write!(f, "the result is outside the supported dates (years -9999 to 9999)")
            }
        }
    }
}

impl std::error::Error for CalendarError {}

/// Business time over one calendar: built once, then queried many times.
#[derive(Debug, Clone)]
pub struct BusinessCalendar {
    name: String,
    zone: String,
    tz: TimeZone,
    /// Merged working ranges per weekday (0 = Monday), seconds since local midnight.
    week: [Vec<(i64, i64)>; 7],
    /// Working time of a week without holidays and time zone transitions.
    week_secs: i64,
    /// Weekdays with working hours: the business days of a business week.
    working_weekdays: i64,
    holidays: BTreeSet<Date>,
}

fn out_of_range<E>(_: E) -> CalendarError {
    CalendarError::OutOfRange
}

fn weekday(d: Date) -> usize {
    d.weekday().to_monday_zero_offset() as usize
}

/// Whole days from `a` to `b` (negative when `b` is earlier).
fn days_between(a: Date, b: Date) -> i64 {
    a.duration_until(b).as_secs() / 86_400
}

fn plus_days(d: Date, days: i64) -> Result<Date, CalendarError> {
    let span = Span::new().try_days(days).map_err(out_of_range)?;
    d.checked_add(span).map_err(out_of_range)
}

fn secs_of(amount: i64, unit_secs: i64) -> Result<SignedDuration, CalendarError> {
    amount
        .checked_mul(unit_secs)
        .map(SignedDuration::from_secs)
        .ok_or(CalendarError::OutOfRange)
}

impl BusinessCalendar {
    /// Validates a compiled calendar: a known IANA zone, ranges with
    /// `start < end <= 24:00` (overlapping or touching ranges of a weekday
    /// are merged), at least one working range, holidays as `YYYY-MM-DD`.
    /// Missing trailing weekdays have no working hours.
    pub fn new(cal: &ir::Calendar) -> Result<Self, CalendarError> {
        let name = cal.name.clone();
        let tz = TimeZone::get(&cal.zone).map_err(|_| CalendarError::UnknownZone {
            calendar: name.clone(),
            zone: cal.zone.clone(),
        })?;
        if cal.week.len() > 7 {
            return Err(CalendarError::BadWeek {
                calendar: name,
                days: cal.week.len(),
            });
        }
        let mut week: [Vec<(i64, i64)>; 7] = Default::default();
        for (day, ranges) in cal.week.iter().enumerate() {
            let mut sorted = ranges.clone();
            sorted.sort_unstable();
            for (start, end) in sorted {
                if start >= end || end > DAY_MINUTES {
                    return Err(CalendarError::BadHours {
                        calendar: name,
                        weekday: day,
                        start,
                        end,
                    });
                }
                let (s, e) = (i64::from(start) * 60, i64::from(end) * 60);
                match week[day].last_mut() {
                    Some(last) if s <= last.1 => last.1 = last.1.max(e),
                    _ => week[day].push((s, e)),
                }
            }
        }
        let week_secs: i64 = week.iter().flatten().map(|(s, e)| e - s).sum();
        if week_secs == 0 {
            return Err(CalendarError::NoWorkingHours { calendar: name });
        }
        let working_weekdays = week.iter().filter(|d| !d.is_empty()).count() as i64;
        let mut holidays = BTreeSet::new();
        for h in &cal.holidays {
            let date: Date = h.parse().map_err(|_| CalendarError::BadHoliday {
                calendar: name.clone(),
                holiday: h.clone(),
            })?;
            holidays.insert(date);
        }
        Ok(BusinessCalendar {
            name,
            zone: cal.zone.clone(),
            tz,
            week,
            week_secs,
            working_weekdays,
            holidays,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The IANA zone name, as written in the calendar.
    pub fn zone(&self) -> &str {
        &self.zone
    }

    pub fn time_zone(&self) -> &TimeZone {
        &self.tz
    }

    /// Business days in a business week: the weekdays with working hours.
    pub fn working_days_per_week(&self) -> u32 {
        self.working_weekdays as u32
    }

    /// Working minutes in a week without holidays or clock changes.
    pub fn weekly_working_minutes(&self) -> i64 {
        self.week_secs / 60
    }

    /// The length of an average working day, in minutes: what one
    /// "business day" of an SLA target is worth on this calendar.
    pub fn working_day_minutes(&self) -> i64 {
        self.week_secs / 60 / self.working_weekdays.max(1)
    }

    pub fn is_holiday(&self, date: Date) -> bool {
        self.holidays.contains(&date)
    }

    /// A civil (wall clock) time in the calendar's zone as an instant, with
    /// jiff's `compatible` disambiguation: a time that does not exist (in a
    /// daylight saving gap) is moved forward by the length of the gap, a time
    /// that occurs twice is its first occurrence.
    pub fn local(&self, dt: DateTime) -> Result<Timestamp, CalendarError> {
        self.tz
            .to_ambiguous_timestamp(dt)
            .compatible()
            .map_err(out_of_range)
    }

    /// Whether `t` is inside a working range (ranges are half open).
    pub fn is_working(&self, t: Timestamp) -> bool {
        let d = self.local_date(t);
        [d.yesterday().ok(), Some(d)]
            .into_iter()
            .flatten()
            .flat_map(|d| self.intervals(d))
            .any(|(a, b)| a <= t && t < b)
    }

    /// `t` itself when it is working time, otherwise the start of the next
    /// working range. Fails after [`HORIZON_YEARS`] years without working
    /// time (only possible with holidays covering that long).
    pub fn next_working(&self, t: Timestamp) -> Result<Timestamp, CalendarError> {
        let from = self.local_date(t);
        let limit = self.limit(from);
        let mut d = from.yesterday().unwrap_or(from);
        loop {
            if d > limit {
                return Err(self.horizon(from));
            }
            if self.may_work(d) {
                for (a, b) in self.intervals(d) {
                    if b > t {
                        return Ok(a.max(t));
                    }
                }
            }
            d = d.tomorrow().map_err(out_of_range)?;
        }
    }

    /// The instant at which duration `d` counted from `start` is up (see the
    /// module documentation for each unit). Business durations count on this
    /// calendar; others are plain time in its zone.
    pub fn add(&self, start: Timestamp, d: &ir::Duration) -> Result<Timestamp, CalendarError> {
        let n = i64::try_from(d.amount).map_err(out_of_range)?;
        if n == 0 {
            return Ok(start);
        }
        if d.business {
            match d.unit {
                DurationUnit::Minutes => self.add_working_time(start, secs_of(n, 60)?),
                DurationUnit::Hours => self.add_working_time(start, secs_of(n, 3_600)?),
                DurationUnit::Days => self.add_working_days(start, n),
                DurationUnit::Weeks => {
                    let days = n
                        .checked_mul(self.working_weekdays)
                        .ok_or(CalendarError::OutOfRange)?;
                    self.add_working_days(start, days)
                }
                unit @ (DurationUnit::Months | DurationUnit::Years) => {
                    Err(CalendarError::BusinessUnit { unit })
                }
            }
        } else {
            let span = match d.unit {
                DurationUnit::Minutes => {
                    return start.checked_add(secs_of(n, 60)?).map_err(out_of_range)
                }
                DurationUnit::Hours => {
                    return start.checked_add(secs_of(n, 3_600)?).map_err(out_of_range)
                }
                DurationUnit::Days => Span::new().try_days(n),
                DurationUnit::Weeks => Span::new().try_weeks(n),
                DurationUnit::Months => Span::new().try_months(n),
                DurationUnit::Years => Span::new().try_years(n),
            }
            .map_err(out_of_range)?;
            start
                .to_zoned(self.tz.clone())
                .checked_add(span)
                .map(|z| z.timestamp())
                .map_err(out_of_range)
        }
    }

    /// The instant at which `amount` of working time counted from `start`
    /// is up (exact to the microsecond, for SLA clocks); `start` itself
    /// for a zero or negative amount.
    pub fn add_working(
        &self,
        start: Timestamp,
        amount: SignedDuration,
    ) -> Result<Timestamp, CalendarError> {
        if amount <= SignedDuration::ZERO {
            return Ok(start);
        }
        self.add_working_time(start, amount)
    }

    /// Working time elapsed in `[start, end)`, in real (elapsed) time; zero
    /// when `end <= start`.
    pub fn between(&self, start: Timestamp, end: Timestamp) -> SignedDuration {
        let mut total = SignedDuration::ZERO;
        if end <= start {
            return total;
        }
        let start_date = self.local_date(start);
        let end_date = self.local_date(end);
        let mut d = start_date.yesterday().unwrap_or(start_date);
        while d <= end_date {
            if d > start_date {
                // Whole weeks strictly after the start day and before the end day.
                let weeks = self.free_days(d).min(days_between(d, end_date)) / 7;
                if weeks > 0 {
                    total += SignedDuration::from_secs(self.week_secs * weeks);
                    match plus_days(d, weeks * 7) {
                        Ok(next) => d = next,
                        Err(_) => break,
                    }
                    continue;
                }
            }
            if self.may_work(d) {
                for (a, b) in self.intervals(d) {
                    let (a, b) = (a.max(start), b.min(end));
                    if b > a {
                        total += a.duration_until(b);
                    }
                }
            }
            match d.tomorrow() {
                Ok(next) => d = next,
                Err(_) => break,
            }
        }
        total
    }

    // ---------------------------------------------------------------- internals

    fn local_date(&self, t: Timestamp) -> Date {
        self.tz.to_datetime(t).date()
    }

    fn limit(&self, from: Date) -> Date {
        plus_days(from, HORIZON_DAYS).unwrap_or(Date::MAX)
    }

    fn horizon(&self, from: Date) -> CalendarError {
        CalendarError::Horizon {
            calendar: self.name.clone(),
            from,
        }
    }

    /// Cheap test without time zone lookups: not a holiday and some hours.
    fn may_work(&self, d: Date) -> bool {
        !self.week[weekday(d)].is_empty() && !self.holidays.contains(&d)
    }

    /// A wall clock time as an instant, for boundaries of working ranges: a
    /// time in a gap is the instant the clock jumps, a repeated time its
    /// first occurrence. Unlike `compatible`, this never goes backwards as
    /// the wall clock time grows. Saturates at the ends of jiff's range.
    fn wall(&self, dt: DateTime) -> Timestamp {
        let amb = self.tz.to_ambiguous_timestamp(dt);
        let t = match amb.offset() {
            AmbiguousOffset::Gap { after, .. } => {
                // With the offset after the gap, `dt` is an instant before
                // the jump; the jump is the next transition.
                match after.to_timestamp(dt) {
                    Ok(before_jump) => match self.tz.following(before_jump).next() {
                        Some(tr) => Ok(tr.timestamp()),
                        None => amb.later(),
                    },
                    Err(e) => Err(e),
                }
            }
            _ => amb.earlier(),
        };
        t.unwrap_or(if dt.year() < 0 {
            Timestamp::MIN
        } else {
            Timestamp::MAX
        })
    }

    /// `offset` after local midnight of `d` (may reach the next midnight).
    fn wall_at(&self, d: Date, offset: SignedDuration) -> Timestamp {
        match d.to_datetime(Time::midnight()).checked_add(offset) {
            Ok(dt) => self.wall(dt),
            Err(_) if d.year() < 0 => Timestamp::MIN,
            Err(_) => Timestamp::MAX,
        }
    }

    /// The working ranges of local date `d` as instants, in order, without
    /// empty ones (a range inside a daylight saving gap).
    fn intervals(&self, d: Date) -> Vec<(Timestamp, Timestamp)> {
        if !self.may_work(d) {
            return Vec::new();
        }
        let ranges = &self.week[weekday(d)];
        let mut out: Vec<(Timestamp, Timestamp)> = Vec::with_capacity(ranges.len());
        for &(s, e) in ranges {
            let a = self.wall_at(d, SignedDuration::from_secs(s));
            let b = self.wall_at(d, SignedDuration::from_secs(e));
            let a = out.last().map_or(a, |last| a.max(last.1));
            if b > a {
                out.push((a, b));
            }
        }
        out
    }

    /// How many days from `d` on contain no holiday and no time zone
    /// transition (with a day of margin), so that their working time is
    /// exactly what the weekly hours say.
    fn free_days(&self, d: Date) -> i64 {
        let mut free = self
            .holidays
            .range(d..)
            .next()
            .map_or(i64::MAX, |h| days_between(d, *h));
        let midnight = self.wall_at(d, SignedDuration::ZERO);
        let probe = midnight
            .checked_sub(SignedDuration::from_hours(24))
            .unwrap_or(midnight);
        if let Some(tr) = self.tz.following(probe).next() {
            let changed = self.tz.to_datetime(tr.timestamp()).date();
            free = free.min(days_between(d, changed) - 1);
        }
        free.max(0)
    }

    fn is_working_day(&self, d: Date) -> bool {
        self.may_work(d) && !self.intervals(d).is_empty()
    }

    /// Working time (wall clock) worked on `d` before time of day `tod`.
    fn position(&self, d: Date, tod: SignedDuration) -> SignedDuration {
        let tod = tod.as_nanos();
        let mut pos: i128 = 0;
        for &(s, e) in &self.week[weekday(d)] {
            let (s, e) = (i128::from(s) * 1_000_000_000, i128::from(e) * 1_000_000_000);
            pos += (tod - s).clamp(0, e - s);
        }
        SignedDuration::from_nanos_i128(pos)
    }

    /// The instant on `d` at working position `pos` (see [`Self::position`]);
    /// a position at the end of a range is the start of the next one, a
    /// position past the day's working time is the end of its last range.
    fn at_position(&self, d: Date, pos: SignedDuration) -> Timestamp {
        let ranges = &self.week[weekday(d)];
        let mut left = pos;
        for &(s, e) in ranges {
            let len = SignedDuration::from_secs(e - s);
            if left < len {
                return self.wall_at(d, SignedDuration::from_secs(s) + left);
            }
            left -= len;
        }
        let end = ranges.last().map_or(0, |r| r.1);
        self.wall_at(d, SignedDuration::from_secs(end))
    }

    fn add_working_time(
        &self,
        start: Timestamp,
        amount: SignedDuration,
    ) -> Result<Timestamp, CalendarError> {
        let start_date = self.local_date(start);
        let limit = self.limit(start_date);
        let week = SignedDuration::from_secs(self.week_secs);
        let mut remaining = amount;
        let mut d = start_date.yesterday().unwrap_or(start_date);
        loop {
            if d > limit {
                return Err(self.horizon(start_date));
            }
            if d > start_date && remaining > week {
                // Leave at least a moment for the last week, so that a result
                // at the end of a week's last range is found by the day loop.
                let needed = (remaining.as_nanos() - 1) / week.as_nanos();
                let weeks = (self.free_days(d) / 7).min(needed as i64);
                if weeks > 0 {
                    remaining -= SignedDuration::from_secs(self.week_secs * weeks);
                    d = plus_days(d, weeks * 7)?;
                    continue;
                }
            }
            if self.may_work(d) {
                for (a, b) in self.intervals(d) {
                    if b <= start {
                        continue;
                    }
                    let from = a.max(start);
                    let available = from.duration_until(b);
                    if remaining <= available {
                        return from.checked_add(remaining).map_err(out_of_range);
                    }
                    remaining -= available;
                }
            }
            d = d.tomorrow().map_err(out_of_range)?;
        }
    }

    fn add_working_days(&self, start: Timestamp, days: i64) -> Result<Timestamp, CalendarError> {
        let from = self.next_working(start)?;
        let local = self.tz.to_datetime(from);
        let first = local.date();
        let pos = self.position(first, Time::midnight().duration_until(local.time()));
        let limit = self.limit(self.local_date(start));
        let mut remaining = days;
        let mut d = first;
        while remaining > 0 {
            if remaining > self.working_weekdays {
                let next = d.tomorrow().map_err(out_of_range)?;
                let needed = (remaining - 1) / self.working_weekdays;
                let weeks = (self.free_days(next) / 7).min(needed);
                if weeks > 0 {
                    d = plus_days(d, weeks * 7)?;
                    remaining -= weeks * self.working_weekdays;
                    if d > limit {
                        return Err(self.horizon(self.local_date(start)));
                    }
                    continue;
                }
            }
            d = d.tomorrow().map_err(out_of_range)?;
            if d > limit {
                return Err(self.horizon(self.local_date(start)));
            }
            if self.is_working_day(d) {
                remaining -= 1;
            }
        }
        Ok(self.at_position(d, pos))
    }
}
