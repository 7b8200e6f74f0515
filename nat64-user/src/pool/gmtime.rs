//! `asctime(gmtime(t))` for dynamic.map's "Last written" line, without a date crate.

const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// C's `asctime` layout, trailing newline included: `"Thu Jan  1 00:00:00 1970\n"`.
pub(crate) fn asctime_utc(epoch_secs: u64) -> String {
    let days = epoch_secs / 86_400;
    let secs = epoch_secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    // 1970-01-01 was a Thursday.
    let weekday = DAYS[((days + 4) % 7) as usize];
    format!(
        "{weekday} {month}{day:3} {:02}:{:02}:{:02} {year}\n",
        secs / 3600,
        secs / 60 % 60,
        secs % 60,
        month = MONTHS[(month - 1) as usize],
    )
}

/// Days since 1970-01-01 to (year, month 1–12, day 1–31), proleptic Gregorian
/// (Howard Hinnant's algorithm, restricted to dates after the epoch).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_c_asctime() {
        assert_eq!(asctime_utc(0), "Thu Jan  1 00:00:00 1970\n");
        // date -u -d @1700000000 → Tue Nov 14 22:13:20 UTC 2023
        assert_eq!(asctime_utc(1_700_000_000), "Tue Nov 14 22:13:20 2023\n");
        // 2024-02-29 12:00:00 UTC, a leap day.
        assert_eq!(asctime_utc(1_709_208_000), "Thu Feb 29 12:00:00 2024\n");
    }
}
