//! Planned intervals against the catalog's maxima (`schedule at most 12
//! months`). Months and years vary in length, so an interval only counts as
//! within a maximum when its longest possible length is no longer than the
//! maximum's shortest one; months against months compare exactly.

use crate::ir::{Duration, DurationUnit};

const DAY: u64 = 1_440;
/// The fewest and most days that k consecutive calendar months (k < 12)
/// can span; twelve months span 365 or 366 days.
const MONTHS_MIN: [u64; 12] = [0, 28, 59, 89, 120, 150, 181, 212, 242, 273, 303, 334];
const MONTHS_MAX: [u64; 12] = [0, 31, 62, 92, 123, 153, 184, 215, 245, 276, 306, 337];

/// Shortest and longest span of `n` months, in days.
fn month_days(n: u64) -> (u64, u64) {
    let (years, rest) = (n / 12, (n % 12) as usize);
    (
        years.saturating_mul(365).saturating_add(MONTHS_MIN[rest]),
        years.saturating_mul(366).saturating_add(MONTHS_MAX[rest]),
    )
}

/// The shortest and longest length of `d` in minutes.
fn bounds(d: &Duration) -> (u64, u64) {
    let n = d.amount;
    let months = match d.unit {
        DurationUnit::Months => n,
        DurationUnit::Years => n.saturating_mul(12),
        other => {
            let per = match other {
                DurationUnit::Minutes => 1,
                DurationUnit::Hours => 60,
                DurationUnit::Days => DAY,
                _ => 7 * DAY,
            };
            return (n.saturating_mul(per), n.saturating_mul(per));
        }
    };
    let (lo, hi) = month_days(months);
    (lo.saturating_mul(DAY), hi.saturating_mul(DAY))
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
        assert!(!within(
            &d(1, DurationUnit::Months),
            &d(30, DurationUnit::Days)
        ));
    }
}
