//! The flags `simulate` and `compare` share, and what they print.

use std::path::PathBuf;

use clap::Args;
use smartscale_sim::trace::Trace;
use smartscale_sim::{FaultPlan, PolicyName, SimConfig, Summary, DEFAULT_SPOT_SHARE};

#[derive(Args, Debug)]
pub struct SimArgs {
    /// A trace to replay (`timestamp,value` CSV); the default is the built-in e-commerce week.
    #[arg(long, value_name = "FILE")]
    pub trace: Option<PathBuf>,
    /// How many days to simulate; with a trace, the window must end inside it.
    #[arg(long, default_value_t = 7)]
    pub days: u32,
    /// When the simulation starts (RFC 3339): with a trace, where in it the replayed window
    /// starts (default: its first point); otherwise the synthetic week's start (default Monday
    /// 2026-11-23).
    #[arg(long)]
    pub start: Option<String>,
    /// The trace value that is the load's peak (`--peak-nodes` nodes' worth of replicas);
    /// default: the peak of the replayed window. At least that peak, above 0.
    #[arg(long, value_name = "V")]
    pub peak_value: Option<f64>,
    /// Nodes' worth of replicas the load's peak needs.
    #[arg(long, default_value_t = 8)]
    pub peak_nodes: u32,
    /// Share of the nodes above the On-Demand floor bought as Spot, 0–1.
    #[arg(long, default_value_t = DEFAULT_SPOT_SHARE)]
    pub spot_share: f64,
    /// Spot interruption warnings per Spot node per day.
    #[arg(long, default_value_t = 0.1)]
    pub spot_interruptions_per_day: f64,
    /// Chance per hour that one AZ's Spot pool has no capacity for that hour, 0–1.
    #[arg(long, default_value_t = 0.0)]
    pub ice_rate: f64,
    /// Active instances beyond which launches fail on the vCPU quota.
    #[arg(long)]
    pub instance_quota: Option<usize>,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Faults to inject, `KIND=RATE,...` (docs/simulate.md, "Fault matrix"), e.g.
    /// `--faults prometheus-outage=1,kube-api-error=0.02`.
    #[arg(long, value_name = "KIND=RATE,...")]
    pub faults: Option<String>,
    /// A handler setting as production's environment would give it, e.g.
    /// `--set SCALE_DOWN_FIT_CHECK=false`; repeatable. `reactive-seed` keeps the spec's rules.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub settings: Vec<String>,
    /// What the decider's metrics queries return: `prometheus` (a 15 s scrape, CPU as
    /// `rate(...[5m])`, gauges one scrape behind) or `ideal` (the step's exact values).
    #[arg(long, default_value = "prometheus", value_name = "prometheus|ideal")]
    pub metrics: String,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Also write a self-contained HTML report with charts.
    #[arg(long, value_name = "FILE.html")]
    pub report: Option<PathBuf>,
}

impl SimArgs {
    pub fn config(&self, policy: PolicyName) -> Result<SimConfig, String> {
        let trace = match &self.trace {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
                Some(Trace::parse(&text, &path.display().to_string()).map_err(|e| e.to_string())?)
            }
            None => None,
        };
        let defaults = SimConfig::new(self.days);
        let settings = self
            .settings
            .iter()
            .map(|kv| match kv.split_once('=') {
                Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
                _ => Err(format!("--set {kv:?}: expected KEY=VALUE")),
            })
            .collect::<Result<Vec<_>, String>>()?;
        let start = match &self.start {
            Some(text) => chrono::DateTime::parse_from_rfc3339(text)
                .map(|t| t.with_timezone(&chrono::Utc))
                .map_err(|e| format!("--start {text:?}: {e}"))?,
            None => trace.as_ref().map(|t| t.start()).unwrap_or(defaults.start),
        };
        let config = SimConfig {
            start,
            peak_nodes: self.peak_nodes,
            seed: self.seed,
            trace,
            peak_value: self.peak_value,
            policy,
            spot_share: self.spot_share,
            spot_interruptions_per_day: self.spot_interruptions_per_day,
            ice_rate: self.ice_rate,
            instance_quota: self.instance_quota,
            settings,
            metrics: self.metrics.parse().map_err(|e: smartscale_core::Error| e.to_string())?,
            ..defaults
        };
        let faults = FaultPlan::parse(self.faults.as_deref().unwrap_or("")).map_err(|e| e.to_string())?;
        let config = config.with_faults(faults).map_err(|e| e.to_string())?;
        config.validate().map_err(|e| e.to_string())?;
        smartscale_sim::check_settings(&config).map_err(|e| e.to_string())?;
        Ok(config)
    }

    /// What the run was, for the report's heading.
    pub fn describe(&self, config: &SimConfig) -> String {
        let load = match &self.trace {
            Some(path) => format!("trace {}", path.display()),
            None => "the synthetic e-commerce week".to_string(),
        };
        let faults = if config.faults.is_empty() { String::new() } else { format!(", faults {}", config.faults) };
        format!(
            "{load}, {} days from {}, peak {} nodes, Spot share {}, {} Spot interruptions per node-day, seed {}, {} metrics{faults}",
            config.days,
            config.start.format("%Y-%m-%d %H:%M UTC"),
            config.peak_nodes,
            config.spot_share,
            config.spot_interruptions_per_day,
            config.seed,
            config.metrics.as_str()
        )
    }
}

/// One policy's summary, a line per figure.
pub fn summary_table(s: &Summary) -> String {
    [
        format!("policy                     {}", s.policy),
        format!("window                     {}", window(s)),
        format!("days                       {}", s.days),
        format!(
            "cost                       ${:.2} ({:.2} × the oracle's ${:.2}; {:.1} % below a static {}-node fleet's ${:.2})",
            s.cost_usd, s.cost_vs_oracle, s.oracle_cost_usd, s.savings_vs_static_pct, s.static_nodes, s.static_cost_usd
        ),
        format!("node-hours                 {:.1}", s.node_hours),
        format!("max nodes                  {}", s.max_nodes_seen),
        format!(
            "unschedulable pod-minutes  {:.1} ({:.3} % of {:.0})",
            s.unschedulable_pod_minutes, s.unschedulable_pct, s.total_pod_minutes
        ),
        format!(
            "longest pending            {} s (p95 time to capacity {} s; p95 {} s to the first launch, {} s from launch to Ready)",
            s.max_pending_duration_s, s.p95_time_to_capacity_s, s.p95_pending_to_launch_s, s.p95_launch_to_ready_s
        ),
        format!("scale-ups / scale-downs    {} / {} ({} thrash)", s.scale_ups, s.scale_downs, s.thrash_events),
        format!("spot interruptions         {} ({} replicas died with a reclaimed node)", s.spot_interruptions, s.pods_killed_by_spot_reclaim),
        format!("pdb violations             {}", s.pdb_violations),
        format!("pods lost                  {}", s.pods_lost),
        format!("dead-lettered messages     {}", s.dlq_messages),
        format!("slack messages             {}", s.slack_messages),
        format!("on-demand floor short      {:.0} min", s.on_demand_floor_minutes_short),
        format!("orphan instances           {}", s.orphan_instances),
        format!("decider errors             {}", s.decider_errors),
        format!(
            "fault episodes / alerts    {} / {} ({:.2} per episode)",
            s.fault_episodes,
            s.fault_alerts,
            s.alerts_per_fault_episode()
        ),
        format!("faults injected            {}", faults_injected(s)),
        format!("redelivered messages       {}", s.redeliveries),
        format!("replicas lost to NotReady  {}", s.pods_killed_by_node_failure),
    ]
    .into_iter()
    .chain(s.windows.iter().map(|w| {
        format!(
            "waited: {:<19} {} pods, {:.1} pod-min in {} windows; after the warm-up {} pods, {:.1} pod-min in {}; \
             displaced by a vanished node {} ({} after the warm-up)",
            w.name.split(" (").next().unwrap_or(&w.name),
            w.pods_waited,
            w.pod_minutes_waiting,
            w.occurrences,
            w.pods_waited_after_warm_up,
            w.pod_minutes_waiting_after_warm_up,
            w.occurrences_after_warm_up,
            w.displaced_pods_waited,
            w.displaced_pods_waited_after_warm_up
        )
    }))
    .chain(s.forecast.iter().flat_map(forecast_lines))
    .collect::<Vec<_>>()
    .join("\n")
}

/// Predictive scaling's side of a run: where its needs came from and what they did.
fn forecast_lines(f: &smartscale_sim::ForecastTally) -> Vec<String> {
    let mode = f.mode.map_or("unknown", |m| m.as_str());
    let mut lines = vec![
        format!(
            "{:<27}{} runs: {} with a profile, {} a floor, {} short of two cycles, {} no pattern, {} history unreadable",
            format!("forecast ({mode})"),
            f.runs, f.runs_with_profile, f.runs_with_floor, f.runs_not_enough_history, f.runs_no_pattern, f.runs_history_unavailable
        ),
        format!(
            "forecast effects           {} pre-scales, {} raised, {} scale-downs held, {} waited; {} applied",
            f.pre_scales, f.raised, f.scale_downs_held, f.waits, f.applied
        ),
        format!(
            "forecast fits              {} ({} daily, {} weekday/weekend, {} weekly, {} short of two cycles, {} no pattern); first profile {}",
            f.fits,
            f.daily_fits,
            f.day_kind_fits,
            f.weekly_fits,
            f.not_enough_history_fits,
            f.no_pattern_fits,
            f.first_profile_at.map_or("never".to_string(), |t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        ),
    ];
    if let Some(fit) = &f.last_fit {
        let score = match (&fit.backtest, &fit.out_of_phase) {
            (Some(b), Some(o)) => format!(
                "; asymmetric error {:.1} % (reactive {:.1} %, out of phase {:.1} %), {:.0} node-min short avoided, {:.1} node-h added",
                b.predictive.asymmetric_error_pct,
                b.reactive.asymmetric_error_pct,
                o.predictive.asymmetric_error_pct,
                b.avoided_node_minutes,
                b.added_node_hours
            ),
            _ => String::new(),
        };
        lines.push(format!(
            "forecast last fit          {}: {}{score}",
            fit.at.format("%Y-%m-%d %H:%M UTC"),
            fit.outcome
        ));
    }
    lines
}

fn window(s: &Summary) -> String {
    s.window.as_ref().map(|w| w.describe()).unwrap_or_else(|| "unknown".into())
}

fn faults_injected(s: &Summary) -> String {
    if s.faults_injected.is_empty() {
        return "none".into();
    }
    s.faults_injected.iter().map(|(k, n)| format!("{k} {n}")).collect::<Vec<_>>().join(", ")
}

/// Every policy side by side, a row each, columns as wide as their widest cell.
pub fn compare_table(summaries: &[&Summary]) -> String {
    let rows: Vec<Vec<(&str, String)>> = summaries.iter().map(|s| s.cells()).collect();
    if rows.is_empty() {
        return String::new();
    }
    // Every policy ran on the same window: said once, above the table.
    let mut lines = vec![format!("window: {}", window(summaries[0]))];
    lines.extend(aligned(&rows));
    lines.join("\n")
}

/// A header line from the first row's headings, then a line per row: the first column
/// left-aligned, the others right-aligned, each as wide as its widest cell.
pub fn aligned(rows: &[Vec<(&str, String)>]) -> Vec<String> {
    let Some(first) = rows.first() else { return Vec::new() };
    let widths: Vec<usize> = (0..first.len())
        .map(|c| rows.iter().map(|r| r[c].1.chars().count()).chain([first[c].0.chars().count()]).max().unwrap_or(0))
        .collect();
    let line = |cells: Vec<&str>| {
        cells
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(c, (text, w))| if c == 0 { format!("{text:<w$}") } else { format!("{text:>w$}") })
            .collect::<Vec<_>>()
            .join("  ")
    };
    let mut lines = vec![line(first.iter().map(|(h, _)| *h).collect())];
    lines.extend(rows.iter().map(|r| line(r.iter().map(|(_, v)| v.as_str()).collect())));
    lines
}

/// The last weekly cost report, as the Slack message says it (money rounded for people), with
/// the simulator's own figure for the same week beside it.
pub fn cost_report_text(weekly: &smartscale_sim::WeeklyReport) -> String {
    use smartscale_core::cost_report::usd;
    let r = &weekly.report;
    let known = |v: Option<f64>, show: &dyn Fn(f64) -> String| v.map_or_else(|| "unknown".to_string(), show);
    let mut out = format!(
        "\nweekly cost report ({} to {}, as posted to Slack):\n  fleet cost {} (the simulator counted {}), baseline {} ({} On-Demand {}), saved {}\n  On-Demand {:.0} node-h, Spot {:.0} node-h, Spot share {}, {} interruptions, {} scale-ups, {} scale-downs\n",
        r.from.format("%a %Y-%m-%d %H:%M"),
        r.to.format("%a %Y-%m-%d %H:%M UTC"),
        known(r.cost_usd, &usd),
        usd(weekly.simulated_cost_usd),
        usd(r.baseline_cost_usd),
        r.baseline_nodes,
        r.baseline_instance_type,
        known(r.savings_pct, &|p| format!("{p:.1}%")),
        r.on_demand.node_hours,
        r.spot.node_hours,
        known(r.spot_share_pct, &|p| format!("{p:.0}%")),
        r.interruptions,
        r.scale_ups,
        r.scale_downs,
    );
    out.push_str(&format!(
        "  unschedulable: {}\n",
        smartscale_core::cost_report::describe_unschedulable(&r.unschedulable)
    ));
    if let Some(forecast) = &r.forecast {
        out.push_str(&format!("  forecast: {}\n", smartscale_core::cost_report::describe_forecast(forecast)));
    }
    for recommendation in &r.recommendations {
        out.push_str(&format!("  recommendation: {}\n", recommendation.message));
    }
    out
}
