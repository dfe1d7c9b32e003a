//! Workload traces: CSV files with the header `timestamp,value` (ISO-8601 UTC timestamps,
//! non-negative numbers), the format of the published traces the simulator replays. Errors name
//! the line, so a bad trace is fixed in one look.

use chrono::{DateTime, Duration, Utc};

use smartscale_core::{Error, Result};

#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    pub at: DateTime<Utc>,
    pub value: f64,
}

/// A parsed trace, in time order.
#[derive(Debug, Clone, PartialEq)]
pub struct Trace {
    pub points: Vec<Point>,
    /// Where it came from (the file as the user named it), for errors and reports.
    pub origin: String,
}

impl Trace {
    /// Parses CSV text. `origin` names the file in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Trace> {
        let mut lines = text.lines().enumerate();
        let header = lines.next().map(|(_, l)| l.trim().trim_start_matches('\u{feff}')).unwrap_or("");
        if header.replace(' ', "") != "timestamp,value" {
            return Err(Error::invalid(
                format!("{origin}:1"),
                format!("the header must be `timestamp,value`, found {header:?}"),
            ));
        }
        let mut points: Vec<Point> = Vec::new();
        for (index, line) in lines {
            let line_no = index + 1;
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            let at_line = |message: String| Error::invalid(format!("{origin}:{line_no}"), message);
            let (timestamp, value) =
                line.split_once(',').ok_or_else(|| at_line(format!("expected `timestamp,value`, found {line:?}")))?;
            let at = DateTime::parse_from_rfc3339(timestamp.trim())
                .map(|t| t.with_timezone(&Utc))
                .map_err(|e| at_line(format!("unparsable timestamp {timestamp:?}: {e}")))?;
            let value: f64 = value.trim().parse().map_err(|_| at_line(format!("value {value:?} is not a number")))?;
            if !value.is_finite() || value < 0.0 {
                return Err(at_line(format!("value {value} must be a non-negative number")));
            }
            if let Some(last) = points.last() {
                if at <= last.at {
                    return Err(at_line(format!(
                        "timestamp {timestamp} is not after the previous one ({})",
                        rfc3339(last.at)
                    )));
                }
            }
            points.push(Point { at, value });
        }
        if points.len() < 2 {
            return Err(Error::invalid(origin, "a trace needs at least two points"));
        }
        Ok(Trace { points, origin: origin.to_string() })
    }

    pub fn start(&self) -> DateTime<Utc> {
        self.points[0].at
    }

    pub fn end(&self) -> DateTime<Utc> {
        self.points[self.points.len() - 1].at
    }

    /// The value in force at `at`: the latest point at or before it (a step function), the
    /// first point before the trace starts.
    pub fn value_at(&self, at: DateTime<Utc>) -> f64 {
        match self.points.partition_point(|p| p.at <= at) {
            0 => self.points[0].value,
            i => self.points[i - 1].value,
        }
    }

    pub fn peak(&self) -> f64 {
        self.points.iter().map(|p| p.value).fold(0.0, f64::max)
    }

    /// The median time between two points: the trace's sampling step.
    pub fn usual_step(&self) -> Duration {
        let mut steps: Vec<Duration> = self.points.windows(2).map(|w| w[1].at - w[0].at).collect();
        steps.sort();
        steps[steps.len() / 2]
    }

    /// Where the trace's data end: its last point holds for one sampling interval (the step
    /// before it), as a bucket labelled with its start does, and no further.
    pub fn covered_until(&self) -> DateTime<Utc> {
        let n = self.points.len();
        self.end() + (self.points[n - 1].at - self.points[n - 2].at)
    }

    /// `[start, start + days)`, refused unless the trace covers all of it: a window that starts
    /// before the trace or runs past its end would replay values the trace does not have.
    /// Errors name the flag, the trace's span and the longest `--days` that fits.
    pub fn window(&self, start: DateTime<Utc>, days: u32) -> Result<(DateTime<Utc>, DateTime<Utc>)> {
        let (first, until) = (self.start(), self.covered_until());
        let span = format!(
            "trace {} covers {} to {} ({:.2} days)",
            self.origin,
            rfc3339(first),
            rfc3339(until),
            (until - first).num_seconds() as f64 / 86_400.0
        );
        if start < first {
            return Err(Error::invalid(
                "--start",
                format!(
                    "{} is before the trace starts: {span}; start at {} or later (from there at most --days {} fits)",
                    rfc3339(start),
                    rfc3339(first),
                    whole_days(until - first)
                ),
            ));
        }
        let end = start + Duration::days(i64::from(days));
        if end > until {
            let advice = if until - Duration::days(i64::from(days)) < first {
                format!(
                    "the whole trace is shorter than {days} days: at most --days {} fits, from its start",
                    whole_days(until - first)
                )
            } else {
                let from_here = match whole_days(until - start.min(until)) {
                    0 => "no whole day fits from this start".to_string(),
                    n => format!("at most --days {n} fits from this start"),
                };
                format!(
                    "{from_here}, or start no later than {} for --days {days}",
                    rfc3339(until - Duration::days(i64::from(days)))
                )
            };
            return Err(Error::invalid(
                "--days",
                format!(
                    "--start {} with --days {days} runs to {}, past the trace's end: {span}; {advice}",
                    rfc3339(start),
                    rfc3339(end)
                ),
            ));
        }
        Ok((start, end))
    }
}

/// An instant as the traces write it: `2014-04-10T00:04:00Z`.
pub fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn whole_days(d: Duration) -> i64 {
    d.num_seconds().div_euclid(86_400)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(err: Error) -> String {
        match err {
            Error::Invalid { field, message } => format!("{field}: {message}"),
            other => panic!("{other}"),
        }
    }

    #[test]
    fn parses_and_steps() {
        let t = Trace::parse("timestamp,value\n2014-07-01T04:00:00Z,10\n2014-07-01T04:30:00Z,20\n", "t.csv").unwrap();
        assert_eq!(t.points.len(), 2);
        assert_eq!(t.value_at("2014-07-01T04:29:59Z".parse().unwrap()), 10.0);
        assert_eq!(t.value_at("2014-07-01T05:00:00Z".parse().unwrap()), 20.0);
        assert_eq!(t.value_at("2014-07-01T03:00:00Z".parse().unwrap()), 10.0);
        assert_eq!(t.peak(), 20.0);
    }

    #[test]
    fn errors_name_the_line() {
        let cases = [
            ("time,load\n2014-07-01T04:00:00Z,1\n", "t.csv:1: the header"),
            ("timestamp,value\n2014-07-01T04:00:00Z,1\nyesterday,2\n", "t.csv:3: unparsable timestamp"),
            ("timestamp,value\n2014-07-01T04:00:00Z,1\n2014-07-01T04:30:00Z,-3\n", "t.csv:3: value -3 must be"),
            ("timestamp,value\n2014-07-01T04:00:00Z,lots\n", "t.csv:2: value \"lots\" is not a number"),
            ("timestamp,value\n2014-07-01T04:00:00Z,1\n2014-07-01T03:00:00Z,2\n", "t.csv:3: timestamp"),
            ("timestamp,value\n2014-07-01T04:00:00Z\n", "t.csv:2: expected"),
            ("timestamp,value\n2014-07-01T04:00:00Z,1\n", "t.csv: a trace needs"),
        ];
        for (text, expected) in cases {
            let err = field(Trace::parse(text, "t.csv").unwrap_err());
            assert!(err.starts_with(expected), "{err}");
        }
    }

    fn hourly(hours: i64) -> Trace {
        let start: DateTime<Utc> = "2014-07-01T00:00:00Z".parse().unwrap();
        let csv: String = std::iter::once("timestamp,value".to_string())
            .chain((0..hours).map(|h| format!("{},{h}", rfc3339(start + Duration::hours(h)))))
            .collect::<Vec<_>>()
            .join("\n");
        Trace::parse(&csv, "h.csv").unwrap()
    }

    #[test]
    fn the_last_point_holds_for_one_step_and_no_further() {
        let t = hourly(48);
        assert_eq!(t.usual_step(), Duration::hours(1));
        assert_eq!(rfc3339(t.covered_until()), "2014-07-03T00:00:00Z");
        let (start, end) = t.window(t.start(), 2).unwrap();
        assert_eq!((rfc3339(start), rfc3339(end)), ("2014-07-01T00:00:00Z".into(), "2014-07-03T00:00:00Z".into()));
        // A second later is past the end; a start between points is inside.
        let err = field(t.window(t.start() + Duration::seconds(1), 2).unwrap_err());
        assert!(
            err.starts_with("--days: --start 2014-07-01T00:00:01Z with --days 2 runs to 2014-07-03T00:00:01Z"),
            "{err}"
        );
        assert!(
            err.contains("at most --days 1 fits from this start, or start no later than 2014-07-01T00:00:00Z"),
            "{err}"
        );
        t.window("2014-07-01T10:30:00Z".parse().unwrap(), 1).unwrap();
    }

    #[test]
    fn a_window_outside_the_trace_names_the_span_and_what_fits() {
        let t = hourly(24 * 5 + 6);
        let span = "trace h.csv covers 2014-07-01T00:00:00Z to 2014-07-06T06:00:00Z (5.25 days)";
        let err = field(t.window("2014-06-30T23:00:00Z".parse().unwrap(), 1).unwrap_err());
        assert_eq!(
            err,
            format!(
                "--start: 2014-06-30T23:00:00Z is before the trace starts: {span}; start at 2014-07-01T00:00:00Z or \
                 later (from there at most --days 5 fits)"
            )
        );
        let err = field(t.window("2014-07-03T00:00:00Z".parse().unwrap(), 4).unwrap_err());
        assert_eq!(
            err,
            format!(
                "--days: --start 2014-07-03T00:00:00Z with --days 4 runs to 2014-07-07T00:00:00Z, past the trace's \
                 end: {span}; at most --days 3 fits from this start, or start no later than 2014-07-02T06:00:00Z \
                 for --days 4"
            )
        );
        let err = field(t.window("2014-07-08T00:00:00Z".parse().unwrap(), 1).unwrap_err());
        assert!(err.contains("no whole day fits from this start"), "{err}");
        let err = field(t.window(t.start(), 6).unwrap_err());
        assert!(
            err.ends_with("the whole trace is shorter than 6 days: at most --days 5 fits, from its start"),
            "{err}"
        );
    }

    /// The published traces beside the repository parse as they are.
    #[test]
    fn the_shared_traces_parse() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/traces");
        let expected = [
            ("nab__nyc_taxi.csv", 10_320),
            ("pasan__nasa_requestdata-20240626.csv", 82_070),
            ("nab__cpu_utilization_asg_misconfiguration.csv", 18_050),
            ("nab__elb_request_count_8c0756.csv", 4_032),
        ];
        for (name, points) in expected {
            let path = dir.join(name);
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("{}: {e} (../shared/traces must sit beside the repo)", path.display()));
            let trace = Trace::parse(&text, name).unwrap();
            assert_eq!(trace.points.len(), points, "{name}");
        }
    }
}
