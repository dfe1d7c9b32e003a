//! Workload traces: CSV files with the header `timestamp,value` (ISO-8601 UTC timestamps,
//! non-negative numbers), the format of the published traces the simulator replays. Errors name
//! the line, so a bad trace is fixed in one look.

use chrono::{DateTime, Utc};

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
                        last.at.to_rfc3339()
                    )));
                }
            }
            points.push(Point { at, value });
        }
        if points.len() < 2 {
            return Err(Error::invalid(origin, "a trace needs at least two points"));
        }
        Ok(Trace { points })
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
