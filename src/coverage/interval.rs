//! Planned intervals against the catalog's maxima (`schedule at most 12
//! months`). Months and years vary in length, so an interval only counts as
//! within a maximum when its longest possible length is no longer than the
//! maximum's shortest one; months against months compare exactly.

use crate::ir::{Duration, DurationUnit};

const DAY: u64 = 1_440;

/// The shortest and longest length of `d` in minutes, or its length in
/// months when written in months or years.
fn bounds(d: &Duration) -> (u64, u64) {
    let n = d.amount;
    let (lo, hi) = match d.unit {
        DurationUnit::Minutes => (1, 1),
        DurationUnit::Hours => (60, 60),
        DurationUnit::Days => (DAY, DAY),
        DurationUnit::Weeks => (7 * DAY, 7 * DAY),
        DurationUnit::Months => (28 * DAY, 31 * DAY),
        DurationUnit::Years => (365 * DAY, 366 * DAY),
    };
    (n.saturating_mul(lo), n.saturating_mul(hi))
}

fn months(d: &Duration) -> Option<u64> {
    match d.unit {
        DurationUnit::Months => Some(d.amount),
        DurationUnit::Years => Some(d.amount.saturating_mul(12)),
        _ => None,
    }
}

/// Whether an interval of `every` is never longer than `max`.
pub fn within(every: &Duration, max: &Duration) -> bool {
    if let (Some(a), Some(b)) = (months(every), months(max)) {
        return a <= b;
    }
    bounds(every).1 <= bounds(max).0
}

/// The interval as written, e.g. `12 months`.
pub fn describe(d: &Duration) -> String {
    let word = match d.unit {
        DurationUnit::Minutes => "minute",
        DurationUnit::Hours => "hour",
        DurationUnit::Days => "day",
        DurationUnit::Weeks => "week",
        DurationUnit::Months => "month",
        DurationUnit::Years => "year",
    };
    let plural = if d.amount == 1 { "" } else { "s" };
    let business = if d.business { "business " } else { "" };
    format!("{} {business}{word}{plural}", d.amount)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(amount: u64, unit: DurationUnit) -> Duration {
        Duration {
            amount,
            unit,
            business: false,
        }
    }

    #[test]
    fn calendar_units_compare_exactly_and_others_conservatively() {
        let year = d(12, DurationUnit::Months);
        assert!(within(&d(1, DurationUnit::Years), &year));
        assert!(within(&d(6, DurationUnit::Months), &year));
        assert!(!within(&d(13, DurationUnit::Months), &year));
        assert!(!within(&d(100, DurationUnit::Years), &year));
        assert!(within(&d(52, DurationUnit::Weeks), &year));
        assert!(!within(&d(53, DurationUnit::Weeks), &year));
        assert!(within(&d(365, DurationUnit::Days), &year));
        assert!(!within(&d(366, DurationUnit::Days), &year));
        assert!(!within(&d(1, DurationUnit::Months), &d(30, DurationUnit::Days)));
    }
}
