//! `smartscale forecast`: the forecast engine on a trace, the synthetic week or a live
//! Prometheus' demand history: the chosen period and profile, the next 24 h, and the
//! walk-forward back-test of the whole history.

use std::path::PathBuf;
use std::time::Instant;

use chrono::{DateTime, Duration, Utc};
use clap::Args;
use serde::Serialize;
use smartscale_core::config::MapConfig;
use smartscale_core::forecast::walk::{walk_forward, WalkForward};
use smartscale_core::forecast::{fit, predict_with, History, Model, NoForecast, Prediction, PredictiveConfig};
use smartscale_core::Error;
use smartscale_sim::trace::Trace;

use crate::backtest_history::{self, Source};
use crate::backtest_http::Endpoint;
use crate::forecast_trace::{history_of_trace, synthetic_history};

#[path = "forecast_prometheus.rs"]
mod forecast_prometheus;

#[derive(Args, Debug)]
pub struct ForecastArgs {
    /// A trace (`timestamp,value` CSV) to forecast.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["synthetic", "prometheus"])]
    pub trace: Option<PathBuf>,
    /// Forecast the simulator's synthetic e-commerce week instead, repeated for `--days` days.
    #[arg(long, conflicts_with = "prometheus")]
    pub synthetic: bool,
    /// Forecast a live cluster's demand history from its Prometheus, `http://host:port[/prefix]`,
    /// read with the decider's demand query.
    #[arg(long, value_name = "URL")]
    pub prometheus: Option<String>,
    /// With --prometheus: a Secrets Manager secret `{"username": …, "password": …}`, read with
    /// the `aws` CLI.
    #[arg(long, value_name = "ID", requires = "prometheus", conflicts_with_all = ["user", "password_file"])]
    pub basic_auth_secret: Option<String>,
    /// With --prometheus: the basic-auth user; the password comes from --password-file.
    #[arg(long, requires_all = ["prometheus", "password_file"])]
    pub user: Option<String>,
    /// A file holding the basic-auth password (its trailing newline is dropped).
    #[arg(long, value_name = "FILE", requires = "user")]
    pub password_file: Option<PathBuf>,
    /// Seconds to wait for each Prometheus answer.
    #[arg(long, default_value_t = 30)]
    pub timeout_s: u64,
    /// With --prometheus: one new node's allocatable CPU, the demand's unit (NEW_NODE_CPU_MILLIS).
    #[arg(long, default_value_t = smartscale_core::Policy::default().new_node_cpu_millis)]
    pub node_cpu_millis: u32,
    /// With --prometheus: one new node's allocatable memory (NEW_NODE_MEMORY_MIB).
    #[arg(long, default_value_t = smartscale_core::Policy::default().new_node_memory_mib)]
    pub node_memory_mib: u32,
    /// Days of the synthetic demand, or of Prometheus history read (ending at --at).
    #[arg(long, default_value_t = 28)]
    pub days: u32,
    /// The forecast instant (RFC 3339); default: the end of the history (with --prometheus: now).
    #[arg(long)]
    pub at: Option<String>,
    /// Days of history the profile reads (PREDICTIVE_HISTORY_DAYS).
    #[arg(long, default_value_t = 14)]
    pub days_history: u32,
    /// Nodes' worth of demand at the trace's peak.
    #[arg(long, default_value_t = 8)]
    pub peak_nodes: u32,
    /// Lead time in seconds (PREDICTIVE_LEAD_TIME); default 600.
    #[arg(long)]
    pub lead: Option<u32>,
    /// p90, 0.95 or max (PREDICTIVE_QUANTILE).
    #[arg(long, default_value = "p90")]
    pub quantile: String,
    /// Margin over the quantile, in % (PREDICTIVE_MARGIN_PCT).
    #[arg(long, default_value_t = 10.0)]
    pub margin_pct: f64,
    /// Scheduled floors, as SCHEDULED_FLOORS.
    #[arg(long)]
    pub floors: Option<String>,
    /// The floors' IANA time zone, as SCHEDULED_FLOORS_TZ.
    #[arg(long)]
    pub floors_tz: Option<String>,
    /// How often the walk-forward back-test refits the profile, in hours.
    #[arg(long, default_value_t = 6)]
    pub refresh_hours: u32,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    /// Time this many fits at `--at` and print the figures instead.
    #[arg(long, value_name = "RUNS")]
    pub bench: Option<u32>,
}

/// The flags and the variables they stand for, so errors name the flag the user typed.
const FLAGS: &[(&str, &str)] = &[
    ("PREDICTIVE_HISTORY_DAYS", "--days-history"),
    ("PREDICTIVE_LEAD_TIME", "--lead"),
    ("PREDICTIVE_QUANTILE", "--quantile"),
    ("PREDICTIVE_MARGIN_PCT", "--margin-pct"),
    ("SCHEDULED_FLOORS", "--floors"),
    ("SCHEDULED_FLOORS_TZ", "--floors-tz"),
];

impl ForecastArgs {
    fn config(&self) -> Result<PredictiveConfig, String> {
        let mut vars = MapConfig::new()
            .with("PREDICTIVE_HISTORY_DAYS", self.days_history)
            .with("PREDICTIVE_QUANTILE", &self.quantile)
            .with("PREDICTIVE_MARGIN_PCT", self.margin_pct);
        if let Some(lead) = self.lead {
            vars = vars.with("PREDICTIVE_LEAD_TIME", lead);
        }
        if let Some(floors) = &self.floors {
            vars = vars.with("SCHEDULED_FLOORS", floors);
        }
        if let Some(tz) = &self.floors_tz {
            vars = vars.with("SCHEDULED_FLOORS_TZ", tz);
        }
        PredictiveConfig::from_config(&vars).map_err(|e| match e {
            Error::Config { var, message } => {
                let flag = FLAGS.iter().find(|(v, _)| *v == var).map_or(var.as_str(), |(_, f)| f);
                format!("{flag}: {message}")
            }
            other => other.to_string(),
        })
    }

    fn history(&self, at: Option<DateTime<Utc>>) -> Result<(History, String), String> {
        if self.peak_nodes == 0 || self.peak_nodes > 1000 {
            return Err(format!("--peak-nodes: must be between 1 and 1000, got {}", self.peak_nodes));
        }
        if let Some(url) = &self.prometheus {
            return self.prometheus_history(url, at.unwrap_or_else(Utc::now));
        }
        match (&self.trace, self.synthetic) {
            (Some(path), false) => {
                let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
                let name =
                    path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned());
                let trace = Trace::parse(&text, &name).map_err(|e| e.to_string())?;
                Ok((history_of_trace(&trace, self.peak_nodes).map_err(|e| e.to_string())?, name))
            }
            (None, true) => {
                if !(1..=366).contains(&self.days) {
                    return Err(format!("--days: must be between 1 and 366, got {}", self.days));
                }
                let (h, _) = synthetic_history(self.days, self.peak_nodes).map_err(|e| e.to_string())?;
                Ok((h, format!("synthetic e-commerce week × {} days", self.days)))
            }
            _ => Err("give --trace FILE, --synthetic or --prometheus URL".to_string()),
        }
    }

    /// The demand of `[at - --days, at]` from a live Prometheus (see `forecast_prometheus`).
    fn prometheus_history(&self, url: &str, at: DateTime<Utc>) -> Result<(History, String), String> {
        if !(2..=366).contains(&self.days) {
            return Err(format!("--days: must be between 2 and 366, got {}", self.days));
        }
        if self.node_cpu_millis == 0 || self.node_memory_mib == 0 {
            return Err("--node-cpu-millis and --node-memory-mib must be above 0".to_string());
        }
        let source = Source {
            endpoint: Endpoint::parse(url)?,
            auth: backtest_history::basic_auth(
                self.user.as_deref(),
                self.password_file.as_deref(),
                self.basic_auth_secret.as_deref(),
            )?,
            timeout: std::time::Duration::from_secs(self.timeout_s.max(1)),
            retries: 2,
            backoff: std::time::Duration::from_millis(500),
        };
        let node = smartscale_core::forecast::NodeSize {
            cpu_millis: f64::from(self.node_cpu_millis),
            memory_bytes: f64::from(self.node_memory_mib) * 1048576.0,
        };
        let (start, end) = forecast_prometheus::window(at, self.days);
        let (history, read) = forecast_prometheus::read_demand(&source, start, end, node)?;
        let utilisation = match read.by_utilisation {
            0 => String::new(),
            n => format!(", {n} of them from CPU utilisation where requests were unknown"),
        };
        let source = format!(
            "Prometheus at {} ({} demand samples{utilisation}; nodes of {} m CPU / {} MiB)",
            source.endpoint.url(),
            read.samples,
            self.node_cpu_millis,
            self.node_memory_mib
        );
        Ok((history, source))
    }
}

#[derive(Serialize)]
struct HourRow {
    hour: DateTime<Utc>,
    /// The highest forecast need in the hour (whole nodes), `None` without a forecast.
    forecast_nodes: Option<u32>,
    /// The highest demand in the hour (nodes), when the history has it.
    actual_nodes: Option<f64>,
    reason: String,
}

#[derive(Serialize)]
struct Report {
    source: String,
    history_from: DateTime<Utc>,
    history_to: DateTime<Utc>,
    at: DateTime<Utc>,
    config: PredictiveConfig,
    lead_s: u32,
    model: Option<Model>,
    no_forecast: Option<NoForecast>,
    now: Prediction,
    next_24h: Vec<HourRow>,
    walk_forward: WalkForward,
}

pub fn run(args: &ForecastArgs) -> Result<String, String> {
    let config = args.config()?;
    if args.refresh_hours == 0 || args.refresh_hours > 168 {
        return Err(format!("--refresh-hours: must be between 1 and 168, got {}", args.refresh_hours));
    }
    let at = match &args.at {
        Some(text) => Some(
            DateTime::parse_from_rfc3339(text)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|e| format!("--at {text:?}: {e}"))?,
        ),
        None => None,
    };
    let (history, source) = args.history(at)?;
    let at = at.unwrap_or_else(|| history.end());
    let lead_s = config.lead_s(None);
    if let Some(runs) = args.bench {
        return Ok(bench(&history, at, &config, lead_s, runs.max(1)));
    }
    let fitted = fit(&history, at, &config, lead_s);
    let now = predict_with(&fitted, at, &config, lead_s);
    let next_24h = (0..24)
        .map(|h| {
            let first = DateTime::from_timestamp(at.timestamp().div_euclid(3600) * 3600, 0).unwrap_or(at);
            let hour = first + Duration::hours(h);
            let slots = (0..12).map(|k| hour + Duration::minutes(5 * k));
            let forecast_nodes =
                fitted.as_ref().ok().and_then(|m| slots.clone().filter_map(|t| m.need(t, 0).map(|n| n.0)).max());
            let floor = config.floors.need(hour, 3600 - 60).map(|f| f.nodes);
            let actual_nodes = slots.filter_map(|t| history.at(t)).reduce(f64::max);
            let reason = predict_with(&fitted, hour, &config, 3540).reason;
            HourRow { hour, forecast_nodes: forecast_nodes.max(floor), actual_nodes, reason }
        })
        .collect();
    let walk = walk_forward(&history, &config, lead_s, Duration::hours(i64::from(args.refresh_hours)));
    let (model, no_forecast) = match fitted {
        Ok(m) => (Some(m), None),
        Err(why) => (None, Some(why)),
    };
    let report = Report {
        source,
        history_from: history.start(),
        history_to: history.end(),
        at,
        config,
        lead_s,
        model,
        no_forecast,
        now,
        next_24h,
        walk_forward: walk,
    };
    if args.json {
        return serde_json::to_string_pretty(&report).map_err(|e| e.to_string());
    }
    Ok(render(&report))
}

fn bench(history: &History, at: DateTime<Utc>, config: &PredictiveConfig, lead_s: u32, runs: u32) -> String {
    let points = history.window(at, config.history_days).slots().iter().flatten().count();
    let mut times = Vec::with_capacity(runs as usize);
    let mut outcome = String::new();
    for _ in 0..runs {
        let started = Instant::now();
        let fitted = fit(history, at, config, lead_s);
        times.push(started.elapsed().as_secs_f64() * 1000.0);
        outcome = match fitted {
            Ok(m) => m.describe(),
            Err(why) => why.to_string(),
        };
    }
    times.sort_by(f64::total_cmp);
    let mean = times.iter().sum::<f64>() / times.len() as f64;
    format!(
        "fit (profile + back-test of every candidate period) on {points} points ({} days at 5 min), {runs} runs: \
         mean {mean:.2} ms, median {:.2} ms, max {:.2} ms\n{outcome}",
        config.history_days,
        times[times.len() / 2],
        times[times.len() - 1]
    )
}

fn render(r: &Report) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "forecast at {} from {} ({} to {})",
        r.at.format("%Y-%m-%d %H:%M %a"),
        r.source,
        r.history_from.format("%Y-%m-%d %H:%M"),
        r.history_to.format("%Y-%m-%d %H:%M")
    );
    let _ = writeln!(
        out,
        "settings: {} of {} days + {} %, lead {} min, mode {}",
        r.config.quantile.label(),
        r.config.history_days,
        r.config.margin_pct,
        r.lead_s / 60,
        r.config.mode.as_str()
    );
    match (&r.model, &r.no_forecast) {
        (Some(m), _) => {
            let _ = writeln!(out, "model: {}", m.describe());
            let _ = writeln!(out, "back-test on the last cycle ({:.0} h):", m.backtest.hours);
            let _ = writeln!(out, "  {:<7} {}", m.period.label(), score_line(&m.backtest));
            if let Some((p, s)) = &m.other {
                let _ = writeln!(out, "  {:<7} {}", p.label(), score_line(s));
            }
            let _ = writeln!(out, "profile (whole nodes, highest per hour, from {}):", m.fitted_at.format("%a %H:%M"));
            let hours = m.slots.len() / 12;
            for day in 0..hours.div_ceil(24) {
                let row: Vec<String> = (day * 24..((day + 1) * 24).min(hours))
                    .map(|h| {
                        m.slots[h * 12..(h + 1) * 12]
                            .iter()
                            .flatten()
                            .map(|v| smartscale_core::forecast::profile::whole_nodes(*v))
                            .max()
                            .map_or("-".to_string(), |n| n.to_string())
                    })
                    .map(|s| format!("{s:>3}"))
                    .collect();
                let day_start = m.fitted_at + Duration::days(day as i64);
                let _ = writeln!(out, "  {} {}", day_start.format("%a"), row.join(""));
            }
        }
        (None, Some(why)) => {
            let _ = writeln!(out, "{why}");
        }
        (None, None) => {}
    }
    let _ = writeln!(out, "now: {}", r.now.reason);
    let _ = writeln!(out, "next 24 h (UTC)     forecast  actual");
    for row in &r.next_24h {
        let f = row.forecast_nodes.map_or("-".to_string(), |n| n.to_string());
        let a = row.actual_nodes.map_or("-".to_string(), |n| format!("{n:.1}"));
        let _ = writeln!(out, "  {}  {f:>8}  {a:>6}", row.hour.format("%a %Y-%m-%d %H:%M"));
    }
    let w = &r.walk_forward;
    let _ = writeln!(
        out,
        "walk-forward back-test, {} to {}, refit every {} h: {} fits ({} daily, {} weekday/weekend, {} weekly, {} no pattern, {} too little history)",
        w.from.format("%Y-%m-%d"),
        w.to.format("%Y-%m-%d"),
        w.refresh_h,
        w.fits,
        w.daily_fits,
        w.day_kind_fits,
        w.weekly_fits,
        w.no_pattern,
        w.not_enough_history
    );
    let _ = write!(out, "  {}", score_line(&w.score));
    out
}

fn score_line(s: &smartscale_core::forecast::Score) -> String {
    format!(
        "asymmetric error {:.1} % (reactive {:.1} %); under-provisioned node-minutes {:.0} (reactive {:.0}), \
         avoided {:.0}; node-hours added {:.1} ({:+.1} % of {:.0})",
        s.predictive.asymmetric_error_pct,
        s.reactive.asymmetric_error_pct,
        s.predictive.under_node_minutes,
        s.reactive.under_node_minutes,
        s.avoided_node_minutes,
        s.added_node_hours,
        if s.reactive.node_hours > 0.0 { 100.0 * s.added_node_hours / s.reactive.node_hours } else { 0.0 },
        s.reactive.node_hours
    )
}
