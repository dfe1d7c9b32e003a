//! Scheduled floors: known peaks the history cannot know (a holiday sale next week), as
//! `SCHEDULED_FLOORS="FRI 19:50-22:00 = 6; 2026-12-24 08:00-20:00 = 8"` in the time zone
//! `SCHEDULED_FLOORS_TZ` (an IANA name, default UTC).
//!
//! An entry is `DAYS HH:MM-HH:MM = NODES`, DAYS being a weekday (`MON`), a range (`MON-FRI`), a
//! list (`SAT,SUN`), `DAILY`, or a date (`2026-12-24`). A window whose end is not after its start
//! runs across midnight into the next day (`FRI 22:00-02:00` ends Saturday 02:00); `24:00` is
//! the end of the day. Times are wall-clock times in the zone, so a floor follows daylight saving.

use std::fmt;

use chrono::{DateTime, Datelike, Duration, NaiveDate, Timelike, Utc, Weekday};
use chrono_tz::Tz;
use serde::{Serialize, Serializer};

use crate::config::{self, ConfigSource};
use crate::{Error, Result};

pub const FLOORS_VAR: &str = "SCHEDULED_FLOORS";
pub const TZ_VAR: &str = "SCHEDULED_FLOORS_TZ";

#[derive(Debug, Clone, PartialEq)]
enum Days {
    /// Bit `n` set for `Weekday::num_days_from_monday() == n`.
    Weekdays(u8),
    Date(NaiveDate),
}

/// One validated entry, kept with its text so decisions quote it as written.
#[derive(Debug, Clone, PartialEq)]
pub struct FloorEntry {
    text: String,
    days: Days,
    /// Minutes after the window's start day's midnight.
    start_min: u32,
    /// Minutes after the same midnight; above 1440 when the window crosses midnight.
    end_min: u32,
    pub nodes: u32,
}

impl fmt::Display for FloorEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// The parsed calendar; empty when `SCHEDULED_FLOORS` is unset.
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduledFloors {
    tz: Tz,
    entries: Vec<FloorEntry>,
}

impl Default for ScheduledFloors {
    fn default() -> Self {
        ScheduledFloors { tz: Tz::UTC, entries: Vec::new() }
    }
}

impl Serialize for ScheduledFloors {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let entries: Vec<&str> = self.entries.iter().map(|e| e.text.as_str()).collect();
        serde_json::json!({ "tz": self.tz.name(), "entries": entries }).serialize(s)
    }
}

/// The floor in force, and which entry set it.
#[derive(Debug, Clone, PartialEq)]
pub struct ActiveFloor<'a> {
    pub nodes: u32,
    pub entry: &'a FloorEntry,
    /// When the need begins: now, or the window's start within the lead time.
    pub from: DateTime<Utc>,
}

impl ScheduledFloors {
    pub fn from_config(source: &dyn ConfigSource) -> Result<ScheduledFloors> {
        let tz = match config::optional(source, TZ_VAR) {
            None => Tz::UTC,
            Some(name) => name
                .parse::<Tz>()
                .map_err(|_| Error::config(TZ_VAR, format!("{name:?} is not an IANA time zone (e.g. Europe/Paris)")))?,
        };
        match config::optional(source, FLOORS_VAR) {
            None => Ok(ScheduledFloors { tz, entries: Vec::new() }),
            Some(text) => ScheduledFloors::parse(&text, tz),
        }
    }

    /// Parses `;`-separated entries; errors name the variable and the entry.
    pub fn parse(text: &str, tz: Tz) -> Result<ScheduledFloors> {
        let mut entries = Vec::new();
        for (i, raw) in text.split(';').enumerate() {
            let raw = raw.trim();
            if raw.is_empty() {
                continue;
            }
            let entry =
                parse_entry(raw).map_err(|m| Error::config(FLOORS_VAR, format!("entry {} `{raw}`: {m}", i + 1)))?;
            entries.push(entry);
        }
        Ok(ScheduledFloors { tz, entries })
    }

    pub fn entries(&self) -> &[FloorEntry] {
        &self.entries
    }

    pub fn tz(&self) -> Tz {
        self.tz
    }

    /// The entries in force at `at`.
    fn in_force(&self, at: DateTime<Utc>) -> impl Iterator<Item = &FloorEntry> {
        let local = at.with_timezone(&self.tz).naive_local();
        let (date, minute) = (local.date(), local.time().num_seconds_from_midnight() / 60);
        self.entries.iter().filter(move |e| {
            // The window that started today, or yesterday's that runs past midnight.
            (e.starts_on(date) && (e.start_min..e.end_min).contains(&minute))
                || (date.pred_opt().is_some_and(|d| e.starts_on(d)) && minute + 1440 < e.end_min)
        })
    }

    /// The highest floor in force at any time in `[now, now + lead]`, so its nodes are Ready
    /// when the window opens. Checked minute by minute: windows are set to the minute.
    pub fn need(&self, now: DateTime<Utc>, lead_s: u32) -> Option<ActiveFloor<'_>> {
        let mut best: Option<ActiveFloor<'_>> = None;
        for minute in 0..=i64::from(lead_s / 60) {
            let at = now + Duration::minutes(minute);
            for entry in self.in_force(at) {
                if best.as_ref().is_none_or(|b| entry.nodes > b.nodes) {
                    best = Some(ActiveFloor { nodes: entry.nodes, entry, from: at });
                }
            }
        }
        best
    }
}

impl FloorEntry {
    fn starts_on(&self, date: NaiveDate) -> bool {
        match self.days {
            Days::Weekdays(mask) => mask & (1 << date.weekday().num_days_from_monday()) != 0,
            Days::Date(d) => d == date,
        }
    }
}

fn parse_entry(raw: &str) -> std::result::Result<FloorEntry, String> {
    let (window, nodes) = raw.split_once('=').ok_or("expected `DAYS HH:MM-HH:MM = NODES`")?;
    let nodes: u32 = nodes.trim().parse().map_err(|_| format!("nodes {:?} is not a whole number", nodes.trim()))?;
    if nodes == 0 {
        return Err("a floor of 0 nodes sets nothing; remove the entry".to_string());
    }
    let mut parts = window.split_whitespace();
    let (Some(days), Some(times), None) = (parts.next(), parts.next(), parts.next()) else {
        return Err("expected `DAYS HH:MM-HH:MM = NODES`".to_string());
    };
    let days = parse_days(days)?;
    let (start, end) = times.split_once('-').ok_or_else(|| format!("time window {times:?} is not HH:MM-HH:MM"))?;
    let start_min = parse_minute(start)?;
    let mut end_min = parse_minute(end)?;
    if start_min == 1440 {
        return Err("a window cannot start at 24:00".to_string());
    }
    if end_min <= start_min {
        end_min += 1440;
    }
    let text = format!(
        "{} {}-{} = {nodes}",
        window.split_whitespace().next().unwrap_or_default().to_ascii_uppercase(),
        start.trim(),
        end.trim()
    );
    Ok(FloorEntry { text, days, start_min, end_min, nodes })
}

fn parse_days(text: &str) -> std::result::Result<Days, String> {
    if text.len() == 10 && text.as_bytes()[4] == b'-' {
        return NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .map(Days::Date)
            .map_err(|_| format!("date {text:?} is not a calendar date YYYY-MM-DD"));
    }
    let upper = text.to_ascii_uppercase();
    if upper == "DAILY" {
        return Ok(Days::Weekdays(0x7f));
    }
    let mut mask = 0u8;
    for item in upper.split(',') {
        match item.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (weekday(a)?, weekday(b)?);
                let (mut d, last) = (a.num_days_from_monday(), b.num_days_from_monday());
                loop {
                    mask |= 1 << d;
                    if d == last {
                        break;
                    }
                    d = (d + 1) % 7;
                }
            }
            None => mask |= 1 << weekday(item)?.num_days_from_monday(),
        }
    }
    Ok(Days::Weekdays(mask))
}

fn weekday(text: &str) -> std::result::Result<Weekday, String> {
    match text {
        "MON" => Ok(Weekday::Mon),
        "TUE" => Ok(Weekday::Tue),
        "WED" => Ok(Weekday::Wed),
        "THU" => Ok(Weekday::Thu),
        "FRI" => Ok(Weekday::Fri),
        "SAT" => Ok(Weekday::Sat),
        "SUN" => Ok(Weekday::Sun),
        _ => Err(format!("{text:?} is not a day: MON..SUN, a range MON-FRI, DAILY or a date YYYY-MM-DD")),
    }
}

fn parse_minute(text: &str) -> std::result::Result<u32, String> {
    let text = text.trim();
    let bad = || format!("time {text:?} is not HH:MM (00:00 to 24:00)");
    let (h, m) = text.split_once(':').ok_or_else(bad)?;
    let (h, m): (u32, u32) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if m > 59 || h > 24 || (h == 24 && m != 0) || text.len() != 5 {
        return Err(bad());
    }
    Ok(h * 60 + m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::MapConfig;

    fn t(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    fn floors(text: &str, tz: &str) -> ScheduledFloors {
        ScheduledFloors::from_config(&MapConfig::new().with(FLOORS_VAR, text).with(TZ_VAR, tz)).unwrap()
    }

    fn err(text: &str) -> String {
        ScheduledFloors::from_config(&MapConfig::new().with(FLOORS_VAR, text)).unwrap_err().to_string()
    }

    #[test]
    fn weekly_and_dated_entries() {
        // 2026-11-27 is a Friday.
        let f = floors("FRI 19:50-22:00 = 6; 2026-12-24 08:00-20:00 = 8", "UTC");
        assert_eq!(f.need(t("2026-11-27T20:00:00Z"), 0).unwrap().nodes, 6);
        assert!(f.need(t("2026-11-27T22:00:00Z"), 0).is_none(), "the end is exclusive");
        assert!(f.need(t("2026-11-26T20:00:00Z"), 0).is_none(), "not on Thursday");
        let early = f.need(t("2026-11-27T19:40:00Z"), 600).unwrap();
        assert_eq!((early.nodes, early.from), (6, t("2026-11-27T19:50:00Z")), "Ready by the window's start");
        assert_eq!(early.entry.to_string(), "FRI 19:50-22:00 = 6");
        assert!(f.need(t("2026-11-27T19:39:00Z"), 600).is_none());
        assert_eq!(f.need(t("2026-12-24T12:00:00Z"), 0).unwrap().nodes, 8);
        assert!(f.need(t("2025-12-24T12:00:00Z"), 0).is_none(), "a date is one day only");
    }

    #[test]
    fn windows_across_midnight_and_the_highest_wins() {
        let f = floors("FRI 22:00-02:00 = 4; SAT,SUN 01:00-03:00 = 5; MON-WED 09:00-24:00 = 3", "UTC");
        assert_eq!(f.need(t("2026-11-27T23:30:00Z"), 0).unwrap().nodes, 4);
        assert_eq!(f.need(t("2026-11-28T00:30:00Z"), 0).unwrap().nodes, 4, "Saturday 00:30 is Friday's window");
        assert_eq!(f.need(t("2026-11-28T01:30:00Z"), 0).unwrap().nodes, 5, "the highest floor in force");
        assert!(f.need(t("2026-11-28T03:00:00Z"), 0).is_none());
        assert_eq!(f.need(t("2026-11-25T23:59:00Z"), 0).unwrap().nodes, 3, "24:00 is the end of the day");
        assert!(f.need(t("2026-11-26T10:00:00Z"), 0).is_none(), "MON-WED leaves Thursday out");
    }

    #[test]
    fn follows_the_time_zone() {
        // 09:00 in Paris is 08:00 UTC in winter.
        let f = floors("DAILY 09:00-10:00 = 3", "Europe/Paris");
        assert_eq!(f.need(t("2026-11-27T08:30:00Z"), 0).unwrap().nodes, 3);
        assert!(f.need(t("2026-11-27T09:30:00Z"), 0).is_none());
        assert_eq!(f.need(t("2026-07-01T07:30:00Z"), 0).unwrap().nodes, 3, "summer time: 09:30 local");
    }

    #[test]
    fn errors_name_the_entry() {
        let cases = [
            ("FRI 19:50-22:00", "entry 1 `FRI 19:50-22:00`: expected"),
            ("FRI 19:50-22:00 = 6; FRY 10:00-11:00 = 2", "entry 2 `FRY 10:00-11:00 = 2`: \"FRY\" is not a day"),
            ("MON 9:00-10:00 = 2", "entry 1 `MON 9:00-10:00 = 2`: time \"9:00\" is not HH:MM"),
            ("MON 09:00-24:30 = 2", "time \"24:30\""),
            ("2026-02-30 09:00-10:00 = 2", "date \"2026-02-30\" is not a calendar date"),
            ("MON 09:00-10:00 = many", "nodes \"many\" is not a whole number"),
            ("MON 09:00-10:00 = 0", "a floor of 0 nodes"),
            ("MON 0900 = 1", "time window \"0900\""),
        ];
        for (text, expected) in cases {
            let message = err(text);
            assert!(message.starts_with("configuration SCHEDULED_FLOORS: "), "{message}");
            assert!(message.contains(expected), "{text}: {message}");
        }
        let tz = ScheduledFloors::from_config(&MapConfig::new().with(TZ_VAR, "CET+1")).unwrap_err();
        assert!(tz.to_string().contains("SCHEDULED_FLOORS_TZ"), "{tz}");
        assert!(ScheduledFloors::from_config(&MapConfig::new()).unwrap().entries().is_empty());
    }
}
