//! Business time (`pdca::runtime::calendar`) and `pdca calendar add|between`.
//!
//! Dates are 2026: UK bank holidays as in `processes/roles.pdca`, daylight
//! saving changes on 2026-03-29 and 2026-10-25 in Europe/London and on
//! 2026-03-08 and 2026-11-01 in America/New_York.

use std::path::Path;
use std::process::{Command, Output};

use jiff::{SignedDuration, Timestamp};
use pdca::ir::{self, DurationUnit};
use pdca::runtime::calendar::{BusinessCalendar, CalendarError};
use pdca::syntax::duration_text::parse_duration;
use proptest::prelude::*;

// ------------------------------------------------------------------ helpers

/// Working hours: (weekdays, 0 = Monday; ranges `HH:MM`-`HH:MM`).
type Hours<'a> = &'a [(&'a [usize], &'a [(&'a str, &'a str)])];

fn hm(s: &str) -> u16 {
    let (h, m) = s.split_once(':').expect("HH:MM");
    h.parse::<u16>().expect("hours") * 60 + m.parse::<u16>().expect("minutes")
}

/// An IR calendar: `hours` is a list of (weekdays 0 = Monday, ranges).
fn ir_calendar(zone: &str, hours: Hours, holidays: &[&str]) -> ir::Calendar {
    let mut week = vec![Vec::new(); 7];
    for (days, ranges) in hours {
        for &day in *days {
            for (s, e) in *ranges {
                week[day].push((hm(s), hm(e)));
            }
        }
    }
    ir::Calendar {
        name: "test".into(),
        zone: zone.into(),
        week,
        holidays: holidays.iter().map(|h| h.to_string()).collect(),
    }
}

fn calendar(zone: &str, hours: Hours, holidays: &[&str]) -> BusinessCalendar {
    BusinessCalendar::new(&ir_calendar(zone, hours, holidays)).expect("valid calendar")
}

const MON_FRI: &[usize] = &[0, 1, 2, 3, 4];
const EVERY_DAY: &[usize] = &[0, 1, 2, 3, 4, 5, 6];
const SUNDAY: &[usize] = &[6];

const UK_2026: &[&str] = &[
    "2026-01-01",
    "2026-04-03",
    "2026-04-06",
    "2026-05-04",
    "2026-05-25",
    "2026-08-31",
    "2026-12-25",
    "2026-12-28",
];

/// `office_hours` of processes/roles.pdca.
fn office_hours() -> BusinessCalendar {
    calendar(
        "Europe/London",
        &[(MON_FRI, &[("08:30", "17:30")])],
        UK_2026,
    )
}

fn london_24h() -> BusinessCalendar {
    calendar("Europe/London", &[(EVERY_DAY, &[("00:00", "24:00")])], &[])
}

fn new_york_office() -> BusinessCalendar {
    calendar("America/New_York", &[(MON_FRI, &[("09:00", "17:00")])], &[])
}

fn split_day() -> BusinessCalendar {
    calendar(
        "UTC",
        &[(MON_FRI, &[("09:00", "12:00"), ("13:00", "17:00")])],
        &[],
    )
}

/// A civil time in the calendar's zone.
fn at(cal: &BusinessCalendar, local: &str) -> Timestamp {
    cal.local(local.parse().expect("civil datetime"))
        .expect("in range")
}

fn show(cal: &BusinessCalendar, t: Timestamp) -> String {
    t.to_zoned(cal.time_zone().clone())
        .strftime("%a %Y-%m-%d %H:%M %Z")
        .to_string()
}

fn dur(text: &str) -> ir::Duration {
    pdca::lower::duration(&parse_duration(text).expect("duration"))
}

fn add(cal: &BusinessCalendar, start: &str, d: &str) -> String {
    let t = cal.add(at(cal, start), &dur(d)).expect("add");
    show(cal, t)
}

fn between(cal: &BusinessCalendar, start: &str, end: &str) -> SignedDuration {
    cal.between(at(cal, start), at(cal, end))
}

fn hours(h: i64) -> SignedDuration {
    SignedDuration::from_hours(h)
}

fn mins(m: i64) -> SignedDuration {
    SignedDuration::from_mins(m)
}

// ------------------------------------------------------------------ business days and weeks

#[test]
fn friday_afternoon_plus_five_business_days_is_next_friday() {
    let cal = office_hours();
    assert_eq!(
        add(&cal, "2026-11-20T15:00", "5 business days"),
        "Fri 2026-11-27 15:00 GMT"
    );
    assert_eq!(
        add(&cal, "2026-11-20T15:00", "1 business week"),
        "Fri 2026-11-27 15:00 GMT"
    );
    assert_eq!(
        add(&cal, "2026-11-20T15:00", "2 business weeks"),
        "Fri 2026-12-04 15:00 GMT"
    );
    // 21, 22, 23, 24 December, then 25 and 28 are holidays: the 29th.
    assert_eq!(
        add(&cal, "2026-12-18T15:00", "5 business days"),
        "Tue 2026-12-29 15:00 GMT"
    );
}

#[test]
fn easter_holidays_are_skipped() {
    let cal = office_hours();
    // Good Friday 3 April and Easter Monday 6 April.
    assert_eq!(
        add(&cal, "2026-04-02T15:00", "1 business day"),
        "Tue 2026-04-07 15:00 BST"
    );
    // 2h30 on Thursday, 5h30 on Tuesday.
    assert_eq!(
        add(&cal, "2026-04-02T15:00", "8 business hours"),
        "Tue 2026-04-07 14:00 BST"
    );
    assert_eq!(
        between(&cal, "2026-04-02T09:00", "2026-04-07T09:00"),
        hours(9)
    );
    assert!(!cal.is_working(at(&cal, "2026-04-03T12:00")));
    assert_eq!(
        show(
            &cal,
            cal.next_working(at(&cal, "2026-04-03T12:00")).unwrap()
        ),
        "Tue 2026-04-07 08:30 BST"
    );
}

#[test]
fn weekends_are_skipped() {
    let cal = office_hours();
    assert_eq!(
        add(&cal, "2026-11-20T16:30", "2 business hours"),
        "Mon 2026-11-23 09:30 GMT"
    );
    assert_eq!(
        add(&cal, "2026-11-20T16:30", "60 business minutes"),
        "Fri 2026-11-20 17:30 GMT",
        "a target at the end of a working range is that end, not the next start"
    );
    assert_eq!(
        between(&cal, "2026-11-20T15:00", "2026-11-23T10:00"),
        mins(150 + 90)
    );
    assert_eq!(
        between(&cal, "2026-11-21T00:00", "2026-11-23T00:00"),
        SignedDuration::ZERO
    );
}

#[test]
fn starts_outside_working_hours() {
    let cal = office_hours();
    // Evening, weekend, early morning, exactly at closing time.
    assert_eq!(
        add(&cal, "2026-11-20T18:00", "1 business hour"),
        "Mon 2026-11-23 09:30 GMT"
    );
    assert_eq!(
        add(&cal, "2026-11-21T10:00", "30 business minutes"),
        "Mon 2026-11-23 09:00 GMT"
    );
    assert_eq!(
        add(&cal, "2026-11-21T10:00", "1 business day"),
        "Tue 2026-11-24 08:30 GMT"
    );
    assert_eq!(
        add(&cal, "2026-11-23T07:00", "1 business day"),
        "Tue 2026-11-24 08:30 GMT"
    );
    assert_eq!(
        add(&cal, "2026-11-20T17:30", "1 business day"),
        "Tue 2026-11-24 08:30 GMT"
    );
    assert_eq!(
        show(
            &cal,
            cal.next_working(at(&cal, "2026-11-21T10:00")).unwrap()
        ),
        "Mon 2026-11-23 08:30 GMT"
    );
    let inside = at(&cal, "2026-11-20T10:00");
    assert_eq!(cal.next_working(inside).unwrap(), inside);
    assert!(cal.is_working(at(&cal, "2026-11-20T08:30")));
    assert!(cal.is_working(at(&cal, "2026-11-20T17:29")));
    assert!(!cal.is_working(at(&cal, "2026-11-20T17:30")));
    assert!(!cal.is_working(at(&cal, "2026-11-21T12:00")));
}

#[test]
fn zero_durations_do_not_move() {
    let cal = office_hours();
    for d in ["0 business hours", "0 business days", "0d", "0m"] {
        assert_eq!(
            add(&cal, "2026-11-21T10:00", d),
            "Sat 2026-11-21 10:00 GMT",
            "{d}"
        );
    }
}

#[test]
fn a_shorter_working_day_caps_the_position() {
    // Saturday is a half day: 6h into Friday is past Saturday's 4h.
    let cal = calendar(
        "UTC",
        &[
            (MON_FRI, &[("09:00", "17:00")]),
            (&[5], &[("09:00", "13:00")]),
        ],
        &[],
    );
    assert_eq!(
        add(&cal, "2026-11-20T15:00", "1 business day"),
        "Sat 2026-11-21 13:00 UTC"
    );
    assert_eq!(
        add(&cal, "2026-11-20T10:00", "1 business day"),
        "Sat 2026-11-21 10:00 UTC"
    );
    // A business week is six business days here: still the same weekday.
    assert_eq!(cal.working_days_per_week(), 6);
    assert_eq!(
        add(&cal, "2026-11-20T15:00", "1 business week"),
        "Fri 2026-11-27 15:00 UTC"
    );
}

#[test]
fn a_whole_year_of_office_hours() {
    // 261 weekdays in 2026, 8 of them bank holidays, 9 hours each.
    let cal = office_hours();
    assert_eq!(
        between(&cal, "2026-01-01T00:00", "2027-01-01T00:00"),
        hours(253 * 9)
    );
    assert_eq!(
        between(&london_24h(), "2026-01-01T00:00", "2027-01-01T00:00"),
        hours(365 * 24)
    );
}

// ------------------------------------------------------------------ daylight saving time

#[test]
fn london_spring_forward() {
    let cal = office_hours();
    // Calendar days keep the local time: 23 real hours.
    let start = at(&cal, "2026-03-28T12:00");
    let next = cal.add(start, &dur("1d")).unwrap();
    assert_eq!(show(&cal, next), "Sun 2026-03-29 12:00 BST");
    assert_eq!(start.duration_until(next), hours(23));
    assert_eq!(
        add(&cal, "2026-03-28T12:00", "24h"),
        "Sun 2026-03-29 13:00 BST"
    );
    assert_eq!(
        add(&cal, "2026-03-25T12:00", "1w"),
        "Wed 2026-04-01 12:00 BST"
    );
    // Business days keep the local time too.
    assert_eq!(
        add(&cal, "2026-03-26T15:00", "2 business days"),
        "Mon 2026-03-30 15:00 BST"
    );
    assert_eq!(
        add(&cal, "2026-03-27T17:00", "1 business hour"),
        "Mon 2026-03-30 09:00 BST"
    );
    assert_eq!(
        between(&cal, "2026-03-27T17:00", "2026-03-30T09:00"),
        hours(1)
    );
    // A civil time in the gap moves forward by the gap (compatible).
    assert_eq!(
        show(&cal, at(&cal, "2026-03-29T01:30")),
        "Sun 2026-03-29 02:30 BST"
    );
    assert_eq!(
        add(&cal, "2026-03-28T01:30", "1d"),
        "Sun 2026-03-29 02:30 BST"
    );
}

#[test]
fn london_fall_back() {
    let cal = office_hours();
    let start = at(&cal, "2026-10-24T12:00");
    let next = cal.add(start, &dur("1 day")).unwrap();
    assert_eq!(show(&cal, next), "Sun 2026-10-25 12:00 GMT");
    assert_eq!(start.duration_until(next), hours(25));
    assert_eq!(
        add(&cal, "2026-10-23T15:00", "1 business day"),
        "Mon 2026-10-26 15:00 GMT"
    );
    assert_eq!(
        between(&cal, "2026-10-23T17:00", "2026-10-26T09:00"),
        hours(1)
    );
    // A repeated civil time is its first occurrence.
    assert_eq!(
        show(&cal, at(&cal, "2026-10-25T01:30")),
        "Sun 2026-10-25 01:30 BST"
    );
    assert_eq!(
        add(&cal, "2026-10-24T01:30", "1d"),
        "Sun 2026-10-25 01:30 BST"
    );
}

#[test]
fn around_the_clock_across_dst() {
    let cal = london_24h();
    // The short and the long Sunday.
    assert_eq!(
        between(&cal, "2026-03-28T12:00", "2026-03-30T12:00"),
        hours(47)
    );
    assert_eq!(
        between(&cal, "2026-10-24T12:00", "2026-10-26T12:00"),
        hours(49)
    );
    assert_eq!(
        add(&cal, "2026-03-28T12:00", "24 business hours"),
        "Sun 2026-03-29 13:00 BST"
    );
    assert_eq!(
        add(&cal, "2026-03-28T12:00", "1 business day"),
        "Sun 2026-03-29 12:00 BST"
    );
    assert_eq!(
        add(&cal, "2026-10-24T12:00", "24 business hours"),
        "Sun 2026-10-25 11:00 GMT"
    );
}

#[test]
fn new_york_dst() {
    let cal = new_york_office();
    assert_eq!(
        add(&cal, "2026-03-06T15:00", "1 business day"),
        "Mon 2026-03-09 15:00 EDT"
    );
    assert_eq!(
        add(&cal, "2026-03-06T15:00", "4 business hours"),
        "Mon 2026-03-09 11:00 EDT"
    );
    assert_eq!(
        add(&cal, "2026-10-30T15:00", "1 business day"),
        "Mon 2026-11-02 15:00 EST"
    );
    let start = at(&cal, "2026-03-07T12:00");
    let next = cal.add(start, &dur("1d")).unwrap();
    assert_eq!(show(&cal, next), "Sun 2026-03-08 12:00 EDT");
    assert_eq!(start.duration_until(next), hours(23));
    assert_eq!(
        between(&cal, "2026-03-06T09:00", "2026-03-09T17:00"),
        hours(16)
    );
}

#[test]
fn working_ranges_through_a_dst_change() {
    // A night shift on Sundays: on the wall clock 01:30-03:30.
    let night = calendar("America/New_York", &[(SUNDAY, &[("01:30", "03:30")])], &[]);
    assert_eq!(
        between(&night, "2026-03-15T00:00", "2026-03-16T00:00"),
        hours(2)
    );
    // Clocks jump 02:00 -> 03:00: one real hour; 02:00 -> 01:00: three.
    assert_eq!(
        between(&night, "2026-03-08T00:00", "2026-03-09T00:00"),
        hours(1)
    );
    assert_eq!(
        between(&night, "2026-11-01T00:00", "2026-11-02T00:00"),
        hours(3)
    );
    assert_eq!(
        add(&night, "2026-03-08T00:00", "30 business minutes"),
        "Sun 2026-03-08 03:00 EDT"
    );
    // A range starting inside the gap starts when the clock jumps.
    let gap = calendar("America/New_York", &[(SUNDAY, &[("02:30", "04:00")])], &[]);
    let first = gap.next_working(at(&gap, "2026-03-08T00:00")).unwrap();
    assert_eq!(show(&gap, first), "Sun 2026-03-08 03:00 EDT");
    assert!(gap.is_working(first));
    assert_eq!(
        between(&gap, "2026-03-08T00:00", "2026-03-09T00:00"),
        hours(1)
    );
}

// ------------------------------------------------------------------ shapes of calendars

#[test]
fn around_the_clock() {
    let cal = london_24h();
    assert_eq!(
        add(&cal, "2026-11-23T10:00", "30 business hours"),
        "Tue 2026-11-24 16:00 GMT"
    );
    assert_eq!(cal.working_days_per_week(), 7);
    assert_eq!(
        add(&cal, "2026-11-23T10:00", "1 business week"),
        "Mon 2026-11-30 10:00 GMT"
    );
    let midnight = at(&cal, "2026-11-24T00:00");
    assert!(cal.is_working(midnight));
    assert_eq!(cal.next_working(midnight).unwrap(), midnight);
    assert_eq!(
        between(&cal, "2026-11-23T23:00", "2026-11-24T01:00"),
        hours(2)
    );
}

#[test]
fn split_days() {
    let cal = split_day();
    assert_eq!(
        add(&cal, "2026-11-23T11:00", "2 business hours"),
        "Mon 2026-11-23 14:00 UTC"
    );
    assert_eq!(
        add(&cal, "2026-11-23T11:00", "1 business hour"),
        "Mon 2026-11-23 12:00 UTC"
    );
    assert_eq!(
        add(&cal, "2026-11-23T12:30", "30 business minutes"),
        "Mon 2026-11-23 13:30 UTC"
    );
    assert_eq!(
        add(&cal, "2026-11-23T12:30", "1 business day"),
        "Tue 2026-11-24 13:00 UTC"
    );
    assert_eq!(
        add(&cal, "2026-11-23T14:00", "1 business day"),
        "Tue 2026-11-24 14:00 UTC"
    );
    assert_eq!(
        add(&cal, "2026-11-20T14:00", "1 business day"),
        "Mon 2026-11-23 14:00 UTC"
    );
    assert_eq!(
        between(&cal, "2026-11-23T11:00", "2026-11-23T14:00"),
        hours(2)
    );
    assert_eq!(
        between(&cal, "2026-11-23T12:10", "2026-11-23T12:50"),
        SignedDuration::ZERO
    );
    assert!(!cal.is_working(at(&cal, "2026-11-23T12:00")));
    assert!(cal.is_working(at(&cal, "2026-11-23T11:59")));
    assert_eq!(
        show(
            &cal,
            cal.next_working(at(&cal, "2026-11-23T12:00")).unwrap()
        ),
        "Mon 2026-11-23 13:00 UTC"
    );
}

#[test]
fn touching_and_overlapping_ranges_merge() {
    for ranges in [
        &[("09:00", "12:00"), ("12:00", "17:00")][..],
        &[("12:00", "17:00"), ("09:00", "13:00")][..],
    ] {
        let cal = calendar("UTC", &[(MON_FRI, ranges)], &[]);
        assert_eq!(
            between(&cal, "2026-11-23T08:00", "2026-11-23T18:00"),
            hours(8)
        );
        assert_eq!(
            add(&cal, "2026-11-23T11:00", "2 business hours"),
            "Mon 2026-11-23 13:00 UTC"
        );
    }
}

#[test]
fn plain_durations() {
    let cal = office_hours();
    assert_eq!(
        add(&cal, "2026-11-21T10:00", "30m"),
        "Sat 2026-11-21 10:30 GMT"
    );
    assert_eq!(
        add(&cal, "2026-11-21T10:00", "4h"),
        "Sat 2026-11-21 14:00 GMT"
    );
    assert_eq!(
        add(&cal, "2026-11-21T10:00", "3d"),
        "Tue 2026-11-24 10:00 GMT"
    );
    assert_eq!(
        add(&cal, "2026-01-31T12:00", "1 month"),
        "Sat 2026-02-28 12:00 GMT"
    );
    assert_eq!(
        add(&cal, "2026-02-28T12:00", "1 year"),
        "Sun 2027-02-28 12:00 GMT"
    );
    assert_eq!(
        add(&cal, "2026-02-28T12:00", "6 months"),
        "Fri 2026-08-28 12:00 BST"
    );
}

#[test]
fn between_is_zero_when_end_is_not_after_start() {
    let cal = office_hours();
    let t = at(&cal, "2026-11-20T10:00");
    assert_eq!(cal.between(t, t), SignedDuration::ZERO);
    assert_eq!(
        cal.between(t, at(&cal, "2026-11-19T10:00")),
        SignedDuration::ZERO
    );
}

// ------------------------------------------------------------------ errors and limits

#[test]
fn invalid_calendars_are_errors() {
    let mon_fri: Hours = &[(MON_FRI, &[("09:00", "17:00")])];
    let err = |c: ir::Calendar| BusinessCalendar::new(&c).expect_err("invalid");
    assert!(matches!(
        err(ir_calendar("Mars/Olympus_Mons", mon_fri, &[])),
        CalendarError::UnknownZone { .. }
    ));
    assert_eq!(
        err(ir_calendar("", mon_fri, &[])).to_string(),
        "calendar `test` has no time zone"
    );
    assert!(matches!(
        err(ir_calendar("UTC", &[], &[])),
        CalendarError::NoWorkingHours { .. }
    ));
    let backwards = err(ir_calendar("UTC", &[(&[0], &[("17:00", "09:00")])], &[]));
    assert_eq!(
        backwards.to_string(),
        "calendar `test` has invalid working hours 17:00-09:00 on mon"
    );
    let mut late = ir_calendar("UTC", mon_fri, &[]);
    late.week[2].push((hm("23:00"), 1_441));
    assert!(matches!(err(late), CalendarError::BadHours { .. }));
    for bad in ["2026-02-30", "christmas", ""] {
        assert!(matches!(
            err(ir_calendar("UTC", mon_fri, &[bad])),
            CalendarError::BadHoliday { .. }
        ));
    }
    let mut eight = ir_calendar("UTC", mon_fri, &[]);
    eight.week.push(Vec::new());
    assert!(matches!(err(eight), CalendarError::BadWeek { .. }));
    // Missing trailing weekdays have no hours.
    let mut short = ir_calendar("UTC", mon_fri, &[]);
    short.week.truncate(3);
    let cal = BusinessCalendar::new(&short).unwrap();
    assert_eq!(cal.working_days_per_week(), 3);
}

#[test]
fn business_months_and_years_are_refused() {
    let cal = office_hours();
    let start = at(&cal, "2026-11-20T15:00");
    for d in ["1 business month", "2 business months", "1 business year"] {
        let e = cal.add(start, &dur(d)).expect_err(d);
        assert!(
            matches!(e, CalendarError::BusinessUnit { .. }),
            "{d}: {e:?}"
        );
        assert!(e
            .to_string()
            .starts_with("business time cannot be counted in"));
    }
}

#[test]
fn far_results_stop_at_the_horizon() {
    let cal = office_hours();
    let start = at(&cal, "2026-11-20T15:00");
    for d in [
        "1000000 business days",
        "1000000 business hours",
        "200000 business weeks",
    ] {
        let e = cal.add(start, &dur(d)).expect_err(d);
        assert!(matches!(e, CalendarError::Horizon { .. }), "{d}: {e:?}");
    }
    // About seven years: fine, and exact.
    let end = cal.add(start, &dur("1000000 business minutes")).unwrap();
    assert_eq!(cal.between(start, end), mins(1_000_000));
    // Holidays covering more than the horizon.
    let mut every_day = Vec::new();
    let mut d: jiff::civil::Date = "2026-01-01".parse().unwrap();
    for _ in 0..(101 * 366) {
        every_day.push(d.to_string());
        d = d.tomorrow().unwrap();
    }
    let mut closed = ir_calendar("UTC", &[(MON_FRI, &[("09:00", "17:00")])], &[]);
    closed.holidays = every_day;
    let closed = BusinessCalendar::new(&closed).unwrap();
    let t: Timestamp = "2026-06-01T12:00:00Z".parse().unwrap();
    assert!(matches!(
        closed.next_working(t),
        Err(CalendarError::Horizon { .. })
    ));
    assert!(matches!(
        closed.add(t, &dur("1 business hour")),
        Err(CalendarError::Horizon { .. })
    ));
    assert!(!closed.is_working(t));
}

#[test]
fn extremes_do_not_panic() {
    let cal = office_hours();
    for d in [
        "1 business hour",
        "1 business day",
        "1h",
        "1d",
        "1 month",
        "1000000 years",
    ] {
        assert!(cal.add(Timestamp::MAX, &dur(d)).is_err(), "{d}");
        let _ = cal.add(Timestamp::MIN, &dur(d));
    }
    let always = calendar("UTC", &[(EVERY_DAY, &[("00:00", "24:00")])], &[]);
    assert!(always.between(Timestamp::MIN, Timestamp::MAX) > hours(24 * 365 * 19_000));
    let _ = cal.is_working(Timestamp::MAX);
    let _ = cal.next_working(Timestamp::MAX);
    let _ = cal.is_working(Timestamp::MIN);
}

// ------------------------------------------------------------------ properties

fn property_calendars() -> Vec<BusinessCalendar> {
    vec![
        office_hours(),
        london_24h(),
        new_york_office(),
        split_day(),
        calendar(
            "America/New_York",
            &[
                (SUNDAY, &[("01:30", "03:30")]),
                (&[2], &[("22:00", "24:00")]),
            ],
            &["2026-07-01"],
        ),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]

    /// Working time from a working instant to `add(start, d)` is exactly `d`.
    #[test]
    fn between_inverts_business_add(
        which in 0usize..5,
        offset in 0i64..(3 * 365 * 86_400),
        amount in 1u64..100_000,
        in_hours in any::<bool>(),
    ) {
        let cals = property_calendars();
        let cal = &cals[which];
        let base: Timestamp = "2025-06-01T00:00:00Z".parse().unwrap();
        let start = cal.next_working(base + SignedDuration::from_secs(offset)).unwrap();
        prop_assert!(cal.is_working(start));
        let (amount, unit, expected) = if in_hours {
            let h = amount / 60 + 1;
            (h, DurationUnit::Hours, SignedDuration::from_hours(h as i64))
        } else {
            (amount, DurationUnit::Minutes, SignedDuration::from_mins(amount as i64))
        };
        let d = ir::Duration { amount, unit, business: true };
        let end = cal.add(start, &d).unwrap();
        prop_assert!(end > start);
        prop_assert_eq!(cal.between(start, end), expected);
    }

    /// Working time adds up over adjacent spans.
    #[test]
    fn between_is_additive(
        which in 0usize..5,
        a in 0i64..(2 * 365 * 86_400),
        b in 0i64..(2 * 365 * 86_400),
        c in 0i64..(2 * 365 * 86_400),
    ) {
        let cals = property_calendars();
        let cal = &cals[which];
        let base: Timestamp = "2025-12-01T00:00:00Z".parse().unwrap();
        let mut v = [a, b, c];
        v.sort_unstable();
        let [a, b, c] = v.map(|s| base + SignedDuration::from_secs(s));
        prop_assert_eq!(cal.between(a, c), cal.between(a, b) + cal.between(b, c));
        prop_assert!(cal.between(a, c) <= a.duration_until(c));
    }

    /// Business days land on a working instant (or the end of a working day).
    #[test]
    fn business_days_land_in_working_time(
        which in 0usize..5,
        offset in 0i64..(2 * 365 * 86_400),
        days in 1u64..400,
    ) {
        let cals = property_calendars();
        let cal = &cals[which];
        let base: Timestamp = "2025-12-01T00:00:00Z".parse().unwrap();
        let start = base + SignedDuration::from_secs(offset);
        let d = ir::Duration { amount: days, unit: DurationUnit::Days, business: true };
        let end = cal.add(start, &d).unwrap();
        prop_assert!(end > start);
        let just_before = end - SignedDuration::from_secs(1);
        prop_assert!(cal.is_working(end) || cal.is_working(just_before));
    }
}

// ------------------------------------------------------------------ durations as text

#[test]
fn durations_parse_like_in_files() {
    let cases = [
        ("4h", 4, DurationUnit::Hours, false),
        ("30m", 30, DurationUnit::Minutes, false),
        ("3d", 3, DurationUnit::Days, false),
        ("2w", 2, DurationUnit::Weeks, false),
        ("6 months", 6, DurationUnit::Months, false),
        ("1 year", 1, DurationUnit::Years, false),
        ("5 business days", 5, DurationUnit::Days, true),
        ("5d business", 5, DurationUnit::Days, true),
        ("2 business hours", 2, DurationUnit::Hours, true),
        ("  90 business mins ", 90, DurationUnit::Minutes, true),
        (
            "1000000 business minutes",
            1_000_000,
            DurationUnit::Minutes,
            true,
        ),
    ];
    for (text, amount, unit, business) in cases {
        let d = dur(text);
        assert_eq!(
            (d.amount, d.unit, d.business),
            (amount, unit, business),
            "{text}"
        );
        // The same text inside a file gives the same duration.
        let file = format!("process p for R {{ schedule every {} }}", text.trim());
        let (ast, diags) = pdca::syntax::parse(pdca::syntax::span::FileId(0), &file);
        assert!(diags.is_empty(), "{text}: {diags:?}");
        let schedule = ast.processes[0].schedule.expect("schedule");
        assert_eq!(pdca::lower::duration(&schedule), d, "{text}");
    }
}

#[test]
fn bad_durations_are_errors() {
    for text in [
        "",
        "4",
        "h",
        "4 parsecs",
        "-3d",
        "4h extra",
        "5 business",
        "4\nh",
        "4.5h",
    ] {
        let e = parse_duration(text).expect_err(text);
        assert!(e.contains("is not a duration"), "{text}: {e}");
    }
    let e = parse_duration("1000001d").expect_err("too long");
    assert!(e.contains("too long"), "{e}");
}

// ------------------------------------------------------------------ the CLI

fn pdca_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pdca"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .output()
        .expect("run pdca")
}

fn pdca(args: &[&str]) -> Output {
    pdca_in(Path::new(env!("CARGO_MANIFEST_DIR")), args)
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn json(o: &Output) -> serde_json::Value {
    assert_eq!(o.status.code(), Some(0), "{}", stderr(o));
    let text = stdout(o);
    assert_eq!(text.lines().count(), 1, "one object: {text}");
    serde_json::from_str(&text).expect("json")
}

/// Exit 2, a message on stderr, nothing on stdout.
fn assert_usage_error(o: &Output, contains: &str) {
    let err = stderr(o);
    assert_eq!(
        o.status.code(),
        Some(2),
        "stdout: {} stderr: {err}",
        stdout(o)
    );
    assert!(stdout(o).is_empty(), "{}", stdout(o));
    assert!(err.contains(contains), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

const NY_CALENDAR: &str = r#"calendar ny_office "New York office" {
  zone "America/New_York"
  hours mon-fri 09:00-17:00
  holiday 2026-11-26 "Thanksgiving"
}
"#;

fn project(text: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("calendars.pdca"), text).expect("write");
    dir
}

#[test]
fn cli_add_human() {
    let o = pdca(&[
        "calendar",
        "add",
        "office_hours",
        "2026-11-20T15:00",
        "5 business days",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        "Fri 2026-11-27 15:00 GMT (Europe/London)\n\
         Fri 2026-11-27 15:00 UTC\n\
         5 business days from Fri 2026-11-20 15:00 GMT in calendar `office_hours` (Europe/London)\n"
    );
    // The duration may also be given as separate words; the start with an offset.
    let words = pdca(&[
        "calendar",
        "add",
        "office_hours",
        "2026-11-20T16:00+01:00",
        "5",
        "business",
        "days",
    ]);
    assert_eq!(stdout(&words), stdout(&o));
    // Summer time, and a start outside working hours.
    let o = pdca(&[
        "calendar",
        "add",
        "office_hours",
        "2026-04-04T10:00",
        "2 business hours",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.starts_with("Tue 2026-04-07 10:30 BST (Europe/London)\nTue 2026-04-07 09:30 UTC\n"),
        "{out}"
    );
    assert!(
        out.contains("(outside working hours: counted from Tue 2026-04-07 08:30 BST)"),
        "{out}"
    );
}

#[test]
fn cli_add_json() {
    let v = json(&pdca(&[
        "calendar",
        "add",
        "office_hours",
        "2026-11-20T15:00:00Z",
        "5 business days",
        "--format",
        "json",
    ]));
    assert_eq!(v["calendar"], "office_hours");
    assert_eq!(v["zone"], "Europe/London");
    assert_eq!(v["start"], "2026-11-20T15:00:00+00:00");
    assert_eq!(v["start_utc"], "2026-11-20T15:00:00Z");
    assert_eq!(v["result"], "2026-11-27T15:00:00+00:00");
    assert_eq!(v["result_utc"], "2026-11-27T15:00:00Z");
    assert_eq!(v["duration"]["amount"], 5);
    assert_eq!(v["duration"]["unit"], "days");
    assert_eq!(v["duration"]["business"], true);
    assert_eq!(v["duration_text"], "5 business days");
    assert_eq!(v["business_minutes"], 5 * 9 * 60);
    let v = json(&pdca(&[
        "calendar",
        "add",
        "office_hours",
        "2026-03-28T12:00",
        "1d",
        "--format",
        "json",
    ]));
    assert_eq!(v["result"], "2026-03-29T12:00:00+01:00");
    assert_eq!(v["result_utc"], "2026-03-29T11:00:00Z");
}

#[test]
fn cli_between() {
    let o = pdca(&[
        "calendar",
        "between",
        "office_hours",
        "2026-04-02T15:00",
        "2026-04-07T10:00",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        "4h of business time (240 minutes)\n\
         from Thu 2026-04-02 15:00 BST to Tue 2026-04-07 10:00 BST in calendar `office_hours` (Europe/London)\n"
    );
    let v = json(&pdca(&[
        "calendar",
        "between",
        "office_hours",
        "2026-11-20T15:00Z",
        "2026-11-24T09:15Z",
        "--format",
        "json",
    ]));
    assert_eq!(v["business_time"], "12h 15m");
    assert_eq!(v["business_minutes"], 735);
    assert_eq!(v["business_seconds"], 735 * 60);
    assert_eq!(v["start"], "2026-11-20T15:00:00+00:00");
    assert_eq!(v["end_utc"], "2026-11-24T09:15:00Z");
    let o = pdca(&[
        "calendar",
        "between",
        "office_hours",
        "2026-11-24T09:00",
        "2026-11-20T15:00",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stdout(&o).starts_with("0m of business time (0 minutes)\n"),
        "{}",
        stdout(&o)
    );
    assert!(stdout(&o).contains("(the end is not after the start)"));
}

#[test]
fn cli_stdlib_calendars_without_a_processes_folder() {
    let empty = tempfile::tempdir().expect("tempdir");
    let o = pdca_in(
        empty.path(),
        &[
            "calendar",
            "add",
            "business_hours",
            "2026-11-20T15:00Z",
            "4 business hours",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stdout(&o).starts_with("Mon 2026-11-23 11:00 UTC (UTC)\n"),
        "{}",
        stdout(&o)
    );
    let v = json(&pdca_in(
        empty.path(),
        &[
            "calendar",
            "between",
            "always",
            "2026-11-20T15:00Z",
            "2026-11-21T15:00Z",
            "--format",
            "json",
        ],
    ));
    assert_eq!(v["business_minutes"], 24 * 60);
}

#[test]
fn cli_project_calendars_from_processes_dir() {
    let dir = project(NY_CALENDAR);
    let path = dir.path().to_str().expect("utf-8 path");
    // Thanksgiving is skipped.
    let v = json(&pdca(&[
        "calendar",
        "add",
        "ny_office",
        "2026-11-25T15:00",
        "1 business day",
        "--processes",
        path,
        "--format",
        "json",
    ]));
    assert_eq!(v["result"], "2026-11-27T15:00:00-05:00");
    // Stdlib calendars are reachable without `use`.
    let o = pdca(&[
        "calendar",
        "add",
        "extended_hours",
        "2026-11-21T19:00Z",
        "2 business hours",
        "--processes",
        path,
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stdout(&o).starts_with("Mon 2026-11-23 08:00 UTC"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn cli_unknown_calendar() {
    let o = pdca(&["calendar", "add", "ofice_hours", "2026-11-20T15:00", "4h"]);
    assert_usage_error(
        &o,
        "unknown calendar `ofice_hours`; did you mean `office_hours`?",
    );
    let o = pdca(&[
        "calendar",
        "between",
        "zzz",
        "2026-11-20T15:00",
        "2026-11-21T15:00",
    ]);
    assert_usage_error(&o, "unknown calendar `zzz`; known calendars: ");
    assert!(stderr(&o).contains("`business_hours`"));
}

#[test]
fn cli_bad_times() {
    for bad in [
        "tomorrow",
        "2026-13-20T15:00",
        "2026-11-20T25:00",
        "15:00",
        "2026-11-20T15:00Zulu",
    ] {
        let o = pdca(&["calendar", "add", "office_hours", bad, "4h"]);
        assert_usage_error(&o, &format!("`{bad}` is not a time"));
        let o = pdca(&[
            "calendar",
            "between",
            "office_hours",
            "2026-11-20T15:00",
            bad,
        ]);
        assert_usage_error(&o, &format!("`{bad}` is not a time"));
    }
}

#[test]
fn cli_bad_durations() {
    for bad in ["4 parsecs", "soon", "4h and more"] {
        let o = pdca(&["calendar", "add", "office_hours", "2026-11-20T15:00", bad]);
        assert_usage_error(&o, &format!("`{bad}` is not a duration"));
    }
    let o = pdca(&[
        "calendar",
        "add",
        "office_hours",
        "2026-11-20T15:00",
        "9999999h",
    ]);
    assert_usage_error(&o, "too long");
    // Read as an option by the argument parser: still a usage error.
    let o = pdca(&["calendar", "add", "office_hours", "2026-11-20T15:00", "-4h"]);
    assert_usage_error(&o, "-4");
}

#[test]
fn cli_business_months_and_far_results() {
    let o = pdca(&[
        "calendar",
        "add",
        "office_hours",
        "2026-11-20T15:00",
        "2 business months",
    ]);
    assert_usage_error(&o, "business time cannot be counted in months");
    let o = pdca(&[
        "calendar",
        "add",
        "office_hours",
        "2026-11-20T15:00",
        "1 business year",
    ]);
    assert_usage_error(&o, "business time cannot be counted in years");
    let o = pdca(&[
        "calendar",
        "add",
        "office_hours",
        "2026-11-20T15:00",
        "1000000 business days",
    ]);
    assert_usage_error(&o, "no result within 100 years");
    let o = pdca(&[
        "calendar",
        "add",
        "office_hours",
        "2026-11-20T15:00",
        "1000000 years",
    ]);
    assert_usage_error(&o, "outside the supported dates");
}

#[test]
fn cli_usage_errors() {
    let o = pdca(&[
        "calendar",
        "add",
        "office_hours",
        "2026-11-20T15:00",
        "4h",
        "--processes",
        "no/such/dir",
    ]);
    assert_usage_error(&o, "cannot read `no/such/dir`");
    let o = pdca(&[
        "calendar",
        "add",
        "office_hours",
        "2026-11-20T15:00",
        "4h",
        "--format",
        "xml",
    ]);
    assert_usage_error(&o, "xml");
    let o = pdca(&["calendar", "add", "office_hours", "2026-11-20T15:00"]);
    assert_usage_error(&o, "DURATION");
    let o = pdca(&["calendar", "between", "office_hours", "2026-11-20T15:00"]);
    assert_usage_error(&o, "END");
    let o = pdca(&["calendar", "subtract"]);
    assert_usage_error(&o, "subtract");
}

#[test]
fn cli_broken_definitions_are_shown() {
    let dir = project(
        "calendar broken {\n  zone \"Mars/Olympus_Mons\"\n  hours mon-fri 09:00-17:00\n}\n",
    );
    let path = dir.path().to_str().expect("utf-8 path");
    let o = pdca(&[
        "calendar",
        "add",
        "broken",
        "2026-11-20T15:00Z",
        "4h",
        "--processes",
        path,
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stdout(&o).is_empty());
    let err = stderr(&o);
    assert!(err.contains("E0509"), "{err}");
    assert!(
        err.contains("fix them before using their calendars"),
        "{err}"
    );
}
