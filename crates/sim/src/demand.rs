//! The load, step by step, and the replicas it asks for; and the window of the trace it comes from.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use smartscale_core::{Error, Result};

use crate::model::{pods_per_node, SimConfig};
use crate::trace::{rfc3339, Trace};
use crate::workload::ecommerce_week;

/// Demand as a share of the peak (0–1) and the replicas an HPA-like rule asks for, per step.
pub struct Demand {
    pub load: Vec<f64>,
    pub replicas: Vec<u64>,
    /// What the load was taken from.
    pub window: Window,
}

impl Demand {
    /// The demand of `config`'s window; refused, naming the flag, when the window or the peak
    /// to scale by is not one the trace can give.
    pub fn of(config: &SimConfig) -> Result<Demand> {
        let window = Window::of(config)?;
        let peak_pods = f64::from(config.peak_nodes) * pods_per_node() as f64;
        let load: Vec<f64> = (0..config.steps())
            .map(|step| {
                let at = config.start + Duration::seconds(step * config.step_s());
                match (&config.trace, window.peak_used) {
                    // The trace's own clock: the simulation runs at the window's instants.
                    (Some(trace), Some(peak)) => trace.value_at(at) / peak,
                    _ => ecommerce_week(at, config.seed),
                }
            })
            .collect();
        // One replica per peak pod's share of the load, never fewer than one.
        let replicas = load.iter().map(|l| ((l * peak_pods).ceil() as u64).max(1)).collect();
        Ok(Demand { load, replicas, window })
    }

    /// The most replicas asked for at once.
    pub fn peak_replicas(&self) -> u64 {
        self.replicas.iter().copied().max().unwrap_or(0)
    }
}

/// The stretch of time a run replays, and the value its load is scaled by.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Window {
    /// The trace replayed, as it was named; `None` for the synthetic week.
    pub trace: Option<String>,
    /// The first step's instant, on the trace's clock.
    pub start: DateTime<Utc>,
    /// The instant after the last step: the window is `[start, end)`.
    pub end: DateTime<Utc>,
    /// The trace value that is a load of 1.0, i.e. `--peak-nodes` nodes' worth of replicas;
    /// `None` for the synthetic week, which is a share of its own peak already.
    pub peak_used: Option<f64>,
    /// Where `peak_used` comes from: `window` (the window's own peak) or `--peak-value`.
    pub peak_from: Option<String>,
    /// The highest value the window replays, and the trace point that holds it.
    pub window_peak: Option<f64>,
    pub window_peak_at: Option<DateTime<Utc>>,
    /// The longest time inside the window with no point of the trace, over which the value
    /// before it is held (a source gap: NASA's log has two), and where it starts; the trace's
    /// usual step beside it, to tell a gap from the sampling.
    pub longest_gap_s: Option<i64>,
    pub longest_gap_from: Option<DateTime<Utc>>,
    pub trace_step_s: Option<i64>,
}

impl Window {
    pub fn of(config: &SimConfig) -> Result<Window> {
        let Some(trace) = &config.trace else {
            if let Some(value) = config.peak_value {
                return Err(Error::invalid(
                    "--peak-value",
                    format!(
                        "{value} scales a trace, and there is none: the synthetic week is a share of its own peak; give \
                         --trace"
                    ),
                ));
            }
            let end = config.start + Duration::days(i64::from(config.days));
            return Ok(Window { start: config.start, end, ..Window::default() });
        };
        let (start, end) = trace.window(config.start, config.days)?;
        let (window_peak, window_peak_at) = peak_between(trace, start, end);
        let (gap, gap_from) = longest_gap(trace, start, end);
        let peak_used = match config.peak_value {
            Some(value) if !(value.is_finite() && value > 0.0) => {
                return Err(Error::invalid("--peak-value", format!("must be a finite number above 0, got {value}")));
            }
            // A lower value would ask for more than --peak-nodes' worth of replicas at the window's
            // peak: a load above 1.0, which capping would hide and the nodes were not sized for.
            Some(value) if value < window_peak => {
                return Err(Error::invalid(
                    "--peak-value",
                    format!(
                        "{value} is below the window's peak {window_peak} (the trace's point at {}), so the load \
                         would pass 1.0, more than --peak-nodes {} nodes' worth of replicas; give at least \
                         {window_peak}, or raise --peak-nodes instead",
                        rfc3339(window_peak_at),
                        config.peak_nodes
                    ),
                ));
            }
            Some(value) => (value, "--peak-value"),
            // Unknown is never zero: an all-zero window has no peak to be a share of.
            None if window_peak <= 0.0 => {
                return Err(Error::invalid(
                    "--peak-value",
                    format!(
                        "the window {} to {} of trace {} is 0 throughout, so it has no peak to scale the load by; \
                         give --peak-value, or choose another --start",
                        rfc3339(start),
                        rfc3339(end),
                        trace.origin
                    ),
                ));
            }
            None => (window_peak, "window"),
        };
        Ok(Window {
            trace: Some(trace.origin.clone()),
            start,
            end,
            peak_used: Some(peak_used.0),
            peak_from: Some(peak_used.1.to_string()),
            window_peak: Some(window_peak),
            window_peak_at: Some(window_peak_at),
            longest_gap_s: Some(gap.num_seconds()),
            longest_gap_from: Some(gap_from),
            trace_step_s: Some(trace.usual_step().num_seconds()),
        })
    }

    /// The window of a demand given step by step rather than replayed from a trace (a cluster's
    /// history, `backtest`): `source` names it; there is no trace value to scale by.
    pub fn given(config: &SimConfig, source: &str) -> Window {
        let end = config.start + Duration::days(i64::from(config.days));
        Window { trace: Some(source.to_string()), start: config.start, end, ..Window::default() }
    }

    /// One line for people: the summary, the comparison and the report.
    pub fn describe(&self) -> String {
        let span = format!(
            "{} to {} ({:.2} days)",
            self.start.format("%Y-%m-%d %H:%M UTC"),
            self.end.format("%Y-%m-%d %H:%M UTC"),
            (self.end - self.start).num_seconds() as f64 / 86_400.0
        );
        let Some(trace) = &self.trace else {
            return format!("the synthetic e-commerce week, {span}");
        };
        let window_peak = match (self.window_peak, self.window_peak_at) {
            (Some(value), Some(at)) => format!("{value} at {}", at.format("%Y-%m-%d %H:%M UTC")),
            _ => "unknown".into(),
        };
        let scale = match (self.peak_used, self.peak_from.as_deref()) {
            (Some(_), Some("window")) => format!("load 1.0 = the window's peak, {window_peak}"),
            (Some(peak), Some(from)) => format!("load 1.0 = {peak} ({from}; the window's peak is {window_peak})"),
            // A demand given as replicas (a history) is not scaled at all.
            _ => "replicas as given, unscaled".into(),
        };
        let gap = match (self.longest_gap_s, self.longest_gap_from, self.trace_step_s) {
            (Some(gap), Some(from), Some(step)) if gap > 2 * step => format!(
                "; the trace has no point for {:.2} days from {} (its step is {step} s): the value before is held",
                gap as f64 / 86_400.0,
                from.format("%Y-%m-%d %H:%M UTC")
            ),
            _ => String::new(),
        };
        format!("trace {trace}, {span}, {scale}{gap}")
    }
}

/// The highest value in force during `[start, end)` (the point in force at `start` included),
/// and that point's timestamp.
fn peak_between(trace: &Trace, start: DateTime<Utc>, end: DateTime<Utc>) -> (f64, DateTime<Utc>) {
    let first = trace.points.partition_point(|p| p.at <= start).saturating_sub(1);
    let mut best = (trace.points[first].value, trace.points[first].at);
    for point in trace.points[first..].iter().take_while(|p| p.at < end) {
        if point.value > best.0 {
            best = (point.value, point.at);
        }
    }
    best
}

/// The longest stretch of `[start, end)` between two of the trace's points (or a point and the
/// window's end), and where it starts.
fn longest_gap(trace: &Trace, start: DateTime<Utc>, end: DateTime<Utc>) -> (Duration, DateTime<Utc>) {
    let first = trace.points.partition_point(|p| p.at <= start).saturating_sub(1);
    let mut instants: Vec<DateTime<Utc>> =
        trace.points[first..].iter().map(|p| p.at.max(start)).take_while(|at| *at < end).collect();
    instants.push(end);
    instants.windows(2).map(|w| (w[1] - w[0], w[0])).max_by_key(|(gap, _)| *gap).unwrap_or((Duration::zero(), start))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trace(points: &[(&str, f64)]) -> Trace {
        let csv: String = std::iter::once("timestamp,value".to_string())
            .chain(points.iter().map(|(at, v)| format!("{at},{v}")))
            .collect::<Vec<_>>()
            .join("\n");
        Trace::parse(&csv, "t.csv").unwrap()
    }

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    #[test]
    fn the_peak_counts_the_point_in_force_at_the_start_and_not_the_one_at_the_end() {
        let t = trace(&[("2014-07-01T00:00:00Z", 9.0), ("2014-07-01T01:00:00Z", 3.0), ("2014-07-01T02:00:00Z", 7.0)]);
        let (peak, point) = peak_between(&t, at("2014-07-01T00:30:00Z"), at("2014-07-01T02:00:00Z"));
        assert_eq!((peak, point), (9.0, at("2014-07-01T00:00:00Z")));
        let (peak, point) = peak_between(&t, at("2014-07-01T01:00:00Z"), at("2014-07-01T02:00:00Z"));
        assert_eq!((peak, point), (3.0, at("2014-07-01T01:00:00Z")), "the 7 at the window's end is not replayed");
    }

    #[test]
    fn the_longest_gap_is_measured_inside_the_window() {
        let t = trace(&[("2014-07-01T00:00:00Z", 1.0), ("2014-07-01T01:00:00Z", 1.0), ("2014-07-01T05:00:00Z", 1.0)]);
        let (gap, from) = longest_gap(&t, at("2014-07-01T00:30:00Z"), at("2014-07-01T06:00:00Z"));
        assert_eq!((gap, from), (Duration::hours(4), at("2014-07-01T01:00:00Z")));
        let (gap, from) = longest_gap(&t, at("2014-07-01T00:30:00Z"), at("2014-07-01T03:00:00Z"));
        assert_eq!((gap, from), (Duration::hours(2), at("2014-07-01T01:00:00Z")), "cut at the window's end");
    }

    #[test]
    fn the_replay_runs_on_the_trace_clock_from_the_start_asked() {
        let t =
            trace(&[("2014-07-01T00:00:00Z", 10.0), ("2014-07-02T00:00:00Z", 40.0), ("2014-07-03T00:00:00Z", 20.0)]);
        let config = SimConfig { start: at("2014-07-02T00:00:00Z"), trace: Some(t), ..SimConfig::new(1) };
        let demand = Demand::of(&config).unwrap();
        assert_eq!((demand.load[0], demand.replicas[0]), (1.0, 40), "day 2's 40 is the window's peak");
        assert!(demand.load.iter().all(|l| *l == 1.0));
        assert_eq!(demand.window.peak_used, Some(40.0));
        let scaled = Demand::of(&SimConfig { peak_value: Some(80.0), ..config }).unwrap();
        assert_eq!((scaled.load[0], scaled.replicas[0]), (0.5, 20));
    }
}
