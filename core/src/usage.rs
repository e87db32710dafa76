//! Usage over time: the [`Ledger`] of tokens and cost per local day and
//! provider (the popup's and options page's "today" and "this month"), the
//! calendar arithmetic it needs ([`day_of`]) and how usage reads on screen
//! ([`format_cost`], [`format_tokens`], [`format_usage`],
//! [`format_usage_short`]).
//!
//! Days are the user's local days: the caller passes the time and the
//! user's offset from UTC in minutes (east positive, the negation of
//! JavaScript's `getTimezoneOffset()`); nothing here reads a clock.
//!
//! ```
//! use paperclip_core::conversation::Usage;
//! use paperclip_core::usage::{format_usage, Ledger};
//!
//! let mut ledger = Ledger::default();
//! let noon = 1_764_936_000_000.0; // 2025-12-05T12:00:00Z
//! ledger.record(noon, 0, "Work", Usage { tokens_in: 312, tokens_out: 148, cost_micro_usd: 2_100 });
//! let report = ledger.report(noon, 0);
//! assert_eq!(report.today, "2025-12-05");
//! assert_eq!(format_usage(&report.rows[0].today), "312 in · 148 out · $0.0021");
//! ```

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::conversation::Usage;

/// Days kept in the ledger (older days are dropped when a day is recorded).
pub const KEEP_DAYS: i64 = 400;
/// Providers kept per day; usage of any further one is added to
/// [`OTHER_PROVIDERS`].
pub const MAX_PROVIDERS_PER_DAY: usize = 32;
/// The bucket of providers past [`MAX_PROVIDERS_PER_DAY`].
pub const OTHER_PROVIDERS: &str = "Other providers";
/// Westmost UTC offset, minutes (UTC−12:00).
pub const MIN_TZ_OFFSET_MIN: i32 = -12 * 60;
/// Eastmost UTC offset, minutes (UTC+14:00).
pub const MAX_TZ_OFFSET_MIN: i32 = 14 * 60;

const MS_PER_DAY: f64 = 86_400_000.0;
/// 9999-12-01T00:00:00Z: later days would not sort as text.
const MAX_TIME_MS: f64 = 253_399_622_400_000.0;

/// A calendar day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Day {
    /// Year (proleptic Gregorian).
    pub year: i64,
    /// Month, 1–12.
    pub month: u32,
    /// Day of the month, 1–31.
    pub day: u32,
}

impl Day {
    /// `YYYY-MM-DD`, the ledger's key.
    pub fn key(&self) -> String {
        format!("{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }

    /// `YYYY-MM`, the prefix of every day of its month.
    pub fn month_key(&self) -> String {
        format!("{:04}-{:02}", self.year, self.month)
    }
}

/// The day with this number of days since 1970-01-01 (Howard Hinnant's
/// `civil_from_days`).
pub fn civil_from_days(days: i64) -> Day {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    Day { year, month, day }
}

/// The number of the local day at `now_ms` (days since 1970-01-01 in the
/// zone `tz_offset_min` minutes east of UTC).
pub fn day_number(now_ms: f64, tz_offset_min: i32) -> i64 {
    let local = now_ms + f64::from(tz_offset_min) * 60_000.0;
    (local / MS_PER_DAY).floor() as i64
}

/// The local day at `now_ms` in the zone `tz_offset_min` minutes east of
/// UTC.
pub fn day_of(now_ms: f64, tz_offset_min: i32) -> Day {
    civil_from_days(day_number(now_ms, tz_offset_min))
}

/// Why a usage question cannot be answered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UsageError {
    /// The time is not a number of milliseconds between 1970 and 9999.
    #[error("the time must be milliseconds since 1970, before the year 9999")]
    Time,
    /// The offset is outside UTC−12:00 … UTC+14:00.
    #[error(
        "the time zone offset must be between {MIN_TZ_OFFSET_MIN} and {MAX_TZ_OFFSET_MIN} minutes"
    )]
    Offset,
}

/// Checks the arguments of [`Ledger::report`] and [`Ledger::record`] as
/// they come from a page.
pub fn check(now_ms: f64, tz_offset_min: i32) -> Result<(), UsageError> {
    if !now_ms.is_finite() || !(0.0..MAX_TIME_MS).contains(&now_ms) {
        return Err(UsageError::Time);
    }
    if !(MIN_TZ_OFFSET_MIN..=MAX_TZ_OFFSET_MIN).contains(&tz_offset_min) {
        return Err(UsageError::Offset);
    }
    Ok(())
}

/// Tokens and cost per local day (`YYYY-MM-DD`) and provider name, kept
/// for [`KEEP_DAYS`] days. Stored as JSON in the `meta` record
/// `usage.ledger`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, Default)]
pub struct Ledger {
    /// Day → provider name → usage.
    pub days: BTreeMap<String, BTreeMap<String, Usage>>,
}

/// One provider's usage today and this month.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct ProviderUsage {
    /// The provider's name, as its answers were labelled.
    pub provider: String,
    /// Today (the local day).
    pub today: Usage,
    /// This calendar month, today included.
    pub month: Usage,
}

/// Usage today and this month, per provider.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, Default)]
pub struct UsageReport {
    /// The local day, `YYYY-MM-DD`.
    pub today: String,
    /// The month, `YYYY-MM`.
    pub month: String,
    /// Providers with usage this month, by name.
    pub rows: Vec<ProviderUsage>,
}

impl UsageReport {
    /// The sum of every provider's usage (today, this month).
    pub fn total(&self) -> (Usage, Usage) {
        let mut today = Usage::default();
        let mut month = Usage::default();
        for row in &self.rows {
            today.add(row.today);
            month.add(row.month);
        }
        (today, month)
    }
}

impl Ledger {
    /// Adds `usage` to `provider` on the local day of `now_ms`, then drops
    /// the days older than [`KEEP_DAYS`] before it.
    pub fn record(&mut self, now_ms: f64, tz_offset_min: i32, provider: &str, usage: Usage) {
        let today = day_number(now_ms, tz_offset_min);
        let day = self.days.entry(civil_from_days(today).key()).or_default();
        let name = if day.contains_key(provider) || day.len() < MAX_PROVIDERS_PER_DAY {
            provider
        } else {
            OTHER_PROVIDERS
        };
        day.entry(name.to_string()).or_default().add(usage);
        self.prune(today);
    }

    /// Drops the days before the [`KEEP_DAYS`] days ending on day number
    /// `today`.
    pub fn prune(&mut self, today: i64) {
        let first_kept = civil_from_days(today - (KEEP_DAYS - 1)).key();
        self.days = self.days.split_off(&first_kept);
    }

    /// Usage on the local day of `now_ms` and in its month, per provider
    /// (by name), in name order.
    pub fn report(&self, now_ms: f64, tz_offset_min: i32) -> UsageReport {
        let day = day_of(now_ms, tz_offset_min);
        let (today, month) = (day.key(), day.month_key());
        let mut rows: BTreeMap<&str, ProviderUsage> = BTreeMap::new();
        let this_month = self
            .days
            .range(format!("{month}-00")..=today.clone())
            .filter(|(d, _)| d.starts_with(&month));
        for (d, providers) in this_month {
            for (name, usage) in providers {
                let row = rows.entry(name).or_insert_with(|| ProviderUsage {
                    provider: name.clone(),
                    today: Usage::default(),
                    month: Usage::default(),
                });
                row.month.add(*usage);
                if *d == today {
                    row.today.add(*usage);
                }
            }
        }
        UsageReport {
            today,
            month,
            rows: rows.into_values().collect(),
        }
    }
}

/// `n` with thousands separators: `1,234,567`.
pub fn format_tokens(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// A cost in micro-USD as people read it: `$0` for nothing,
/// `<$0.0001` below a hundredth of a cent, four decimals below a dollar
/// (`$0.0021`; trailing zeros trimmed to two: `$0.50`), cents from a
/// dollar up (`$1.24`, `$1,234.50`). Rounded to nearest.
pub fn format_cost(micro_usd: u64) -> String {
    if micro_usd == 0 {
        return "$0".into();
    }
    if micro_usd < 50 {
        return "<$0.0001".into();
    }
    // Ten-thousandths of a dollar.
    let tenk = (u128::from(micro_usd) + 50) / 100;
    if tenk < 10_000 {
        let mut decimals = format!("{tenk:04}");
        while decimals.len() > 2 && decimals.ends_with('0') {
            decimals.pop();
        }
        return format!("$0.{decimals}");
    }
    let cents = (u128::from(micro_usd) + 5_000) / 10_000;
    let dollars = u64::try_from(cents / 100).unwrap_or(u64::MAX);
    format!("${}.{:02}", format_tokens(dollars), cents % 100)
}

/// One line of usage: `312 in · 148 out · $0.0021`.
pub fn format_usage(u: &Usage) -> String {
    format!(
        "{} in · {} out · {}",
        format_tokens(u.tokens_in),
        format_tokens(u.tokens_out),
        format_cost(u.cost_micro_usd)
    )
}

/// Usage in a few words, for narrow places: `$0.0021 · 460 tokens`.
pub fn format_usage_short(u: &Usage) -> String {
    let tokens = u.tokens_in.saturating_add(u.tokens_out);
    let unit = if tokens == 1 { "token" } else { "tokens" };
    format!(
        "{} · {} {unit}",
        format_cost(u.cost_micro_usd),
        format_tokens(tokens)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Milliseconds at `YYYY-MM-DDTHH:MM:00Z`.
    fn at(date: &str, hh: u32, mm: u32) -> f64 {
        let (y, rest) = date.split_at(4);
        let m: u32 = rest[1..3].parse().unwrap();
        let d: u32 = rest[4..6].parse().unwrap();
        let y: i64 = y.parse().unwrap();
        // days_from_civil
        let y2 = if m <= 2 { y - 1 } else { y };
        let era = y2.div_euclid(400);
        let yoe = y2 - era * 400;
        let mp = i64::from((m + 9) % 12);
        let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        let days = era * 146_097 + doe - 719_468;
        days as f64 * MS_PER_DAY + f64::from(hh) * 3_600_000.0 + f64::from(mm) * 60_000.0
    }

    fn u(tokens_in: u64, tokens_out: u64, cost: u64) -> Usage {
        Usage {
            tokens_in,
            tokens_out,
            cost_micro_usd: cost,
        }
    }

    #[test]
    fn days_follow_the_calendar() {
        assert_eq!(day_of(0.0, 0).key(), "1970-01-01");
        assert_eq!(day_of(-1.0, 0).key(), "1969-12-31");
        assert_eq!(day_of(at("2024-02-29", 23, 59), 0).key(), "2024-02-29");
        assert_eq!(day_of(at("2024-02-29", 23, 59), 1).key(), "2024-03-01");
        assert_eq!(day_of(at("2000-03-01", 0, 0), 0).key(), "2000-03-01");
        assert_eq!(day_of(at("2026-12-31", 12, 0), 0).month_key(), "2026-12");
        for days in [0, 59, 365, 11_016, 20_000, 2_932_896] {
            let d = civil_from_days(days);
            let back = day_number(at(&d.key(), 0, 0), 0);
            assert_eq!(back, days, "{}", d.key());
        }
    }

    #[test]
    fn the_offset_moves_the_day() {
        // 23:30 UTC on the 5th is already the 6th in Paris (UTC+1) and
        // still the 5th in New York (UTC−5).
        let t = at("2026-12-05", 23, 30);
        assert_eq!(day_of(t, 60).key(), "2026-12-06");
        assert_eq!(day_of(t, -300).key(), "2026-12-05");
        // 02:00 UTC on the 1st is still the previous month in Los Angeles.
        let t = at("2026-12-01", 2, 0);
        assert_eq!(day_of(t, -480).key(), "2026-11-30");
        assert_eq!(day_of(t, 0).key(), "2026-12-01");
        assert_eq!(day_of(t, MAX_TZ_OFFSET_MIN).key(), "2026-12-01");
    }

    #[test]
    fn today_and_this_month_are_bucketed_per_provider() {
        let mut l = Ledger::default();
        l.record(at("2026-11-30", 22, 0), 0, "Work", u(1, 1, 100));
        l.record(at("2026-12-01", 9, 0), 0, "Work", u(10, 20, 300));
        l.record(at("2026-12-05", 9, 0), 0, "Work", u(100, 200, 3_000));
        l.record(at("2026-12-05", 10, 0), 0, "Home", u(5, 6, 0));
        l.record(at("2026-12-05", 11, 0), 0, "Work", u(1, 2, 7));
        let r = l.report(at("2026-12-05", 12, 0), 0);
        assert_eq!(
            (r.today.as_str(), r.month.as_str()),
            ("2026-12-05", "2026-12")
        );
        assert_eq!(
            r.rows,
            [
                ProviderUsage {
                    provider: "Home".into(),
                    today: u(5, 6, 0),
                    month: u(5, 6, 0)
                },
                ProviderUsage {
                    provider: "Work".into(),
                    today: u(101, 202, 3_007),
                    month: u(111, 222, 3_307)
                },
            ]
        );
        assert_eq!(r.total(), (u(106, 208, 3_007), u(116, 228, 3_307)));
        // On the next day, "today" is empty but the month is not; in the
        // next month both are, and November is still kept.
        let r = l.report(at("2026-12-06", 12, 0), 0);
        assert_eq!(r.rows[1].today, Usage::default());
        assert_eq!(r.rows[1].month, u(111, 222, 3_307));
        let r = l.report(at("2027-01-01", 0, 0), 0);
        assert!(r.rows.is_empty());
        assert_eq!(
            l.report(at("2026-11-30", 23, 0), 0).rows[0].month,
            u(1, 1, 100)
        );
    }

    #[test]
    fn the_month_boundary_follows_the_users_zone() {
        let mut l = Ledger::default();
        // 23:30 UTC on 30 November is 1 December in Berlin (UTC+1).
        let t = at("2026-11-30", 23, 30);
        l.record(t, 60, "Work", u(3, 4, 5));
        assert_eq!(l.days.keys().collect::<Vec<_>>(), ["2026-12-01"]);
        let berlin = l.report(t, 60);
        assert_eq!(berlin.month, "2026-12");
        assert_eq!(berlin.rows[0].today, u(3, 4, 5));
        // The same instant in UTC is still November: nothing this month.
        assert!(l.report(t, 0).rows.is_empty());
    }

    #[test]
    fn old_days_are_pruned_and_providers_bounded() {
        let mut l = Ledger::default();
        let first = at("2025-01-01", 12, 0);
        l.record(first, 0, "Work", u(1, 1, 1));
        l.record(first + 398.0 * MS_PER_DAY, 0, "Work", u(1, 1, 1));
        assert_eq!(l.days.len(), 2, "399 days apart: both kept");
        l.record(first + 400.0 * MS_PER_DAY, 0, "Work", u(1, 1, 1));
        assert_eq!(l.days.len(), 2, "401 days apart: the first is gone");
        assert!(!l.days.contains_key("2025-01-01"));
        assert!(l.days.len() as i64 <= KEEP_DAYS);

        let mut l = Ledger::default();
        for i in 0..40 {
            l.record(first, 0, &format!("p{i}"), u(1, 0, 0));
        }
        l.record(first, 0, "p0", u(1, 0, 0));
        let day = &l.days["2025-01-01"];
        assert_eq!(day.len(), MAX_PROVIDERS_PER_DAY + 1);
        assert_eq!(day[OTHER_PROVIDERS].tokens_in, 8);
        assert_eq!(day["p0"].tokens_in, 2);
    }

    #[test]
    fn bad_arguments_are_refused() {
        assert_eq!(check(f64::NAN, 0), Err(UsageError::Time));
        assert_eq!(check(-1.0, 0), Err(UsageError::Time));
        assert_eq!(check(1.0, 15 * 60), Err(UsageError::Offset));
        assert_eq!(check(1.0, -13 * 60), Err(UsageError::Offset));
        assert_eq!(check(1.7e12, -300), Ok(()));
    }

    #[test]
    fn money_and_tokens_read_well() {
        let cases = [
            (0, "$0"),
            (1, "<$0.0001"),
            (49, "<$0.0001"),
            (50, "$0.0001"),
            (100, "$0.0001"),
            (2_100, "$0.0021"),
            (2_149, "$0.0021"),
            (2_150, "$0.0022"),
            (123_456, "$0.1235"),
            (500_000, "$0.50"),
            (10_000, "$0.01"),
            (999_949, "$0.9999"),
            (999_950, "$1.00"),
            (1_240_000, "$1.24"),
            (1_234_504_999, "$1,234.50"),
            (u64::MAX, "$18,446,744,073,709.55"),
        ];
        for (micro, want) in cases {
            assert_eq!(format_cost(micro), want, "{micro}");
        }
        assert_eq!(format_tokens(0), "0");
        assert_eq!(format_tokens(999), "999");
        assert_eq!(format_tokens(1_000), "1,000");
        assert_eq!(format_tokens(1_234_567), "1,234,567");
        assert_eq!(
            format_usage(&u(312, 148, 2_100)),
            "312 in · 148 out · $0.0021"
        );
        assert_eq!(
            format_usage(&u(12_000, 1_500, 1_240_000)),
            "12,000 in · 1,500 out · $1.24"
        );
    }

    proptest::proptest! {
        #[test]
        fn days_are_consecutive_and_keys_sort(days in 0i64..2_900_000) {
            let (a, b) = (civil_from_days(days), civil_from_days(days + 1));
            proptest::prop_assert!(a < b);
            proptest::prop_assert!(a.key() < b.key());
            proptest::prop_assert_eq!(day_number(days as f64 * MS_PER_DAY, 0), days);
        }
    }
}
