//! Calendar dates without a time-zone database: `YYYY-MM-DD` in UTC, to and from Unix seconds.
//!
//! Expiry is chosen by the day in Atlassian's UI, so a day is all the precision we need; a
//! token is treated as lapsed from the first second of its expiry date (UTC), never later.

use std::time::{SystemTime, UNIX_EPOCH};

pub const SECONDS_PER_DAY: u64 = 86_400;

/// Now, in Unix seconds (0 if the clock is before 1970).
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Parses `YYYY-MM-DD` into the Unix time of its first second, UTC.
pub fn parse_date(text: &str) -> Option<u64> {
    let mut parts = text.trim().splitn(3, '-');
    let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
    if y.len() != 4 || m.len() != 2 || d.len() != 2 {
        return None;
    }
    let (y, m, d): (i64, u32, u32) = (y.parse().ok()?, m.parse().ok()?, d.parse().ok()?);
    if !(1..=12).contains(&m) || d == 0 || d > days_in_month(y, m) || y < 1970 {
        return None;
    }
    u64::try_from(days_from_civil(y, m, d))
        .ok()
        .map(|days| days * SECONDS_PER_DAY)
}

/// Formats Unix seconds as `YYYY-MM-DD` (UTC).
pub fn format_date(seconds: u64) -> String {
    let (y, m, d) = civil_from_days((seconds / SECONDS_PER_DAY) as i64);
    format!("{y:04}-{m:02}-{d:02}")
}

/// Calendar days (UTC) from `now`'s day to `then`'s day: a date 5 days away says 5, whatever
/// the hour; 0 on the day itself, negative once passed.
pub fn days_until(then: u64, now: u64) -> i64 {
    let day = |seconds: u64| (seconds / SECONDS_PER_DAY) as i64;
    day(then) - day(now)
}

/// `5 days left`, `1 day left`, `0 days left`: the days until `then`, in words.
pub fn days_left(then: u64, now: u64) -> String {
    match days_until(then, now) {
        1 => "1 day left".to_owned(),
        days => format!("{days} days left"),
    }
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_day_left_is_singular() {
        let now = 20_000 * SECONDS_PER_DAY;
        assert_eq!(days_left(now + SECONDS_PER_DAY, now), "1 day left");
        assert_eq!(days_left(now + 5 * SECONDS_PER_DAY, now), "5 days left");
        assert_eq!(days_left(now + 10, now), "0 days left");
    }

    #[test]
    fn parses_and_formats_known_dates() {
        assert_eq!(parse_date("1970-01-01"), Some(0));
        assert_eq!(parse_date("2026-07-28"), Some(1_785_196_800));
        assert_eq!(parse_date("2024-02-29"), Some(1_709_164_800));
        assert_eq!(format_date(1_785_196_800), "2026-07-28");
        assert_eq!(
            format_date(1_785_196_800 + SECONDS_PER_DAY - 1),
            "2026-07-28"
        );
    }

    #[test]
    fn rejects_what_is_not_a_calendar_date() {
        for bad in [
            "2026-02-29",
            "2026-13-01",
            "2026-00-10",
            "26-01-01",
            "2026-1-1",
            "tomorrow",
            "",
        ] {
            assert_eq!(parse_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn counts_days_left_and_past() {
        let day = SECONDS_PER_DAY;
        assert_eq!(days_until(10 * day, 0), 10);
        // Five days before, late in the day: still five days away.
        assert_eq!(days_until(10 * day, 5 * day + day - 1), 5);
        assert_eq!(days_until(10 * day, 10 * day - 1), 1);
        assert_eq!(days_until(10 * day, 10 * day + 1), 0);
        assert_eq!(days_until(10 * day, 11 * day + 1), -1);
    }

    #[test]
    fn round_trips_every_day_for_sixty_years() {
        for day in 0..(60 * 366) {
            let seconds = day * SECONDS_PER_DAY;
            assert_eq!(parse_date(&format_date(seconds)), Some(seconds));
        }
    }
}
