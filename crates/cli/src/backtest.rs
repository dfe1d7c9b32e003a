//! `smartscale backtest`: what every policy would have done on a cluster's own history, read
//! from its Prometheus, beside what the cluster actually ran (docs/backtest.md).

use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, Utc};
use clap::Args;
use serde::Serialize;
use smartscale_core::ports::Lifecycle;
use smartscale_core::pricing::PriceTable;
use smartscale_sim::history::{peak_nodes_for, replicas_for};
use smartscale_sim::{Demand, Run, SimConfig, Summary, DEFAULT_SPOT_SHARE};

use crate::backtest_history::{self, History, Source};
use crate::backtest_http::Endpoint;
use crate::progress::Progress;

#[derive(Args, Debug)]
pub struct BacktestArgs {
    /// The cluster's Prometheus, `http://host:port[/prefix]`.
    #[arg(long, value_name = "URL")]
    pub prometheus: String,
    /// A Secrets Manager secret `{"username": …, "password": …}`, read with the `aws` CLI.
    #[arg(long, value_name = "ID", conflicts_with_all = ["user", "password_file"])]
    pub basic_auth_secret: Option<String>,
    /// Basic-auth user; the password comes from --password-file.
    #[arg(long, requires = "password_file")]
    pub user: Option<String>,
    /// A file holding the basic-auth password (its trailing newline is dropped).
    #[arg(long, value_name = "FILE", requires = "user")]
    pub password_file: Option<PathBuf>,
    /// Days of history to replay, ending at --end.
    #[arg(long, default_value_t = 14)]
    pub days: u32,
    /// The end of the window (RFC 3339); default: now, rounded down to the step.
    #[arg(long)]
    pub end: Option<String>,
    /// The history's resolution, 1 to 5 minutes: `60s`, `2m`, `300s`.
    #[arg(long, default_value = "60s")]
    pub step: String,
    /// Seconds to wait for each Prometheus answer.
    #[arg(long, default_value_t = 30)]
    pub timeout_s: u64,
    /// The instance type the cluster's nodes are priced as, On-Demand, for the "actual" row.
    #[arg(long, default_value = "t3.small")]
    pub node_type: String,
    /// Share of the simulated nodes above the On-Demand floor bought as Spot, 0–1.
    #[arg(long, default_value_t = DEFAULT_SPOT_SHARE)]
    pub spot_share: f64,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// A handler setting for the simulated policies, e.g. `--set MIN_NODES=3`; repeatable.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub settings: Vec<String>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Also write a self-contained HTML report with charts.
    #[arg(long, value_name = "FILE.html")]
    pub report: Option<PathBuf>,
}

/// What the cluster really ran over the window, from `kube_node_info` and the price table.
#[derive(Debug, Clone, Serialize)]
pub struct Actual {
    pub policy: &'static str,
    pub node_type: String,
    pub lifecycle: &'static str,
    pub price_per_node_hour_usd: f64,
    pub prices: String,
    pub cost_usd: f64,
    pub node_hours: f64,
    pub mean_nodes: f64,
    pub max_nodes: u32,
    pub min_nodes: u32,
    /// Minutes of the cluster's own pods the scheduler could not place
    /// (`kube_pod_status_unschedulable`), whatever their size.
    pub unschedulable_cluster_pod_minutes: f64,
    /// The same in the simulator's unit: replicas of 200 m / 256 MiB the unschedulable pods'
    /// requests come to, times minutes; the policies' "unschedulable pod-minutes".
    pub unschedulable_pod_minutes: f64,
    /// `unschedulable_pod_minutes` as a share of the demand's pod-minutes, in %.
    pub unschedulable_pct: f64,
    pub cost_vs_oracle: f64,
    pub savings_vs_static_pct: f64,
}

#[derive(Debug, Serialize)]
struct Output<'a> {
    prometheus: String,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    days: u32,
    step_s: i64,
    history_steps: usize,
    /// Steps where some signal had no value and the one before was held.
    filled_steps: usize,
    range_queries: usize,
    chunks_per_signal: usize,
    queries: Vec<(&'static str, String)>,
    peak_replicas: u64,
    peak_nodes: u32,
    actual: &'a Actual,
    policies: Vec<&'a Summary>,
}

pub fn backtest(args: &BacktestArgs) -> Result<String, String> {
    let endpoint = Endpoint::parse(&args.prometheus)?;
    let step_s = parse_step(&args.step)?;
    if args.days == 0 || args.days > 366 {
        return Err(format!("--days must be between 1 and 366, got {}", args.days));
    }
    if args.timeout_s == 0 || args.timeout_s > 600 {
        return Err(format!("--timeout-s must be between 1 and 600, got {}", args.timeout_s));
    }
    let price = PriceTable::default();
    let node_price = price
        .per_hour(&args.node_type, Lifecycle::OnDemand)
        .ok_or_else(|| format!("--node-type {}: not in the price table ({})", args.node_type, price.describe()))?;
    let end = match &args.end {
        Some(text) => DateTime::parse_from_rfc3339(text)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|e| format!("--end {text:?}: {e}"))?,
        None => Utc::now(),
    };
    let end = DateTime::from_timestamp(end.timestamp() - end.timestamp().rem_euclid(step_s), 0).unwrap_or(end);
    let start = end - chrono::Duration::days(i64::from(args.days));
    let source = Source {
        endpoint,
        auth: auth(args)?,
        timeout: Duration::from_secs(args.timeout_s),
        retries: 2,
        backoff: Duration::from_millis(500),
    };
    let history = backtest_history::read(&source, start, end, step_s)?;
    let url = source.endpoint.url();

    // The window is [start, end): the point at `end` closes it and is not replayed.
    let points: Vec<(DateTime<Utc>, u64)> = history
        .steps
        .iter()
        .filter(|s| s.at < end)
        .map(|s| (s.at, replicas_for(s.cpu_millis, s.memory_bytes)))
        .collect();
    let peak_replicas = points.iter().map(|(_, r)| *r).max().unwrap_or(1);
    let peak_nodes = peak_nodes_for(peak_replicas);
    let settings = args
        .settings
        .iter()
        .map(|kv| match kv.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
            _ => Err(format!("--set {kv:?}: expected KEY=VALUE")),
        })
        .collect::<Result<Vec<_>, String>>()?;
    let config = SimConfig {
        start,
        peak_nodes,
        seed: args.seed,
        spot_share: args.spot_share,
        settings,
        ..SimConfig::new(args.days)
    };
    config.validate().map_err(|e| e.to_string())?;
    smartscale_sim::check_settings(&config).map_err(|e| e.to_string())?;
    let demand =
        Demand::from_replicas(&config, &points, &format!("the history of {url}")).map_err(|e| e.to_string())?;
    let mut progress = Progress::new();
    let runs = smartscale_sim::history::compare(&config, &demand, &mut |share| progress.update(share))
        .map_err(|e| e.to_string())?;
    let actual = actual(&history, end, &args.node_type, node_price, price.describe(), &runs[0].summary);

    if let Some(path) = &args.report {
        let html = report(&describe(&url, &config, &history, peak_replicas), &runs, &actual);
        std::fs::write(path, html).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        eprintln!("smartscale: report written to {}", path.display());
    }
    let policies: Vec<&Summary> = runs.iter().map(|r| &r.summary).collect();
    if args.json {
        let output = Output {
            prometheus: url,
            start,
            end,
            days: args.days,
            step_s,
            history_steps: history.steps.len(),
            filled_steps: history.filled_steps,
            range_queries: history.range_queries,
            chunks_per_signal: history.chunks,
            queries: backtest_history::queries().to_vec(),
            peak_replicas,
            peak_nodes,
            actual: &actual,
            policies,
        };
        return serde_json::to_string_pretty(&output).map_err(|e| e.to_string());
    }
    Ok(format!(
        "{}\n\n{}\n\nactual: every node kube_node_info reports, priced as {} On-Demand at ${:.4}/h ({}); \
         \"-\" is not known from the history",
        describe(&url, &config, &history, peak_replicas),
        table(&policies, &actual),
        actual.node_type,
        actual.price_per_node_hour_usd,
        actual.prices
    ))
}

/// `60s`, `90s`, `1m`, `5m`: between one and five minutes.
fn parse_step(text: &str) -> Result<i64, String> {
    let (number, unit) = match text.strip_suffix('s') {
        Some(n) => (n, 1),
        None => match text.strip_suffix('m') {
            Some(n) => (n, 60),
            None => (text, 1),
        },
    };
    let seconds = number
        .parse::<i64>()
        .map(|n| n * unit)
        .map_err(|_| format!("--step {text:?}: expected seconds or minutes, e.g. 60s or 5m"))?;
    if !(60..=300).contains(&seconds) {
        return Err(format!("--step {text:?}: must be between 1 and 5 minutes (60s to 300s)"));
    }
    Ok(seconds)
}

/// `--user` with `--password-file`, or `--basic-auth-secret` (shared with `forecast --prometheus`).
fn auth(args: &BacktestArgs) -> Result<Option<(String, String)>, String> {
    backtest_history::basic_auth(args.user.as_deref(), args.password_file.as_deref(), args.basic_auth_secret.as_deref())
}

/// The real fleet's figures over `[start, end)`, each history step standing for `step_s`.
fn actual(
    history: &History,
    end: DateTime<Utc>,
    node_type: &str,
    price: f64,
    prices: String,
    refs: &Summary,
) -> Actual {
    let step_h = history.step_s as f64 / 3600.0;
    let steps: Vec<_> = history.steps.iter().filter(|s| s.at < end).collect();
    let nodes: Vec<u32> = steps.iter().map(|s| s.nodes.round().max(0.0) as u32).collect();
    let node_hours: f64 = nodes.iter().map(|n| f64::from(*n) * step_h).sum();
    let cost_usd = node_hours * price;
    let step_min = history.step_s as f64 / 60.0;
    let unschedulable_pod_minutes: f64 = steps
        .iter()
        .map(|s| {
            let waiting = s.unschedulable_cpu_millis > 0.0 || s.unschedulable_memory_bytes > 0.0;
            let replicas =
                if waiting { replicas_for(s.unschedulable_cpu_millis, s.unschedulable_memory_bytes) } else { 0 };
            replicas as f64 * step_min
        })
        .sum();
    let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { 0.0 };
    Actual {
        policy: "actual",
        node_type: node_type.to_string(),
        lifecycle: "on-demand",
        price_per_node_hour_usd: price,
        prices,
        cost_usd,
        node_hours,
        mean_nodes: ratio(node_hours, steps.len() as f64 * step_h),
        max_nodes: nodes.iter().copied().max().unwrap_or(0),
        min_nodes: nodes.iter().copied().min().unwrap_or(0),
        unschedulable_cluster_pod_minutes: steps.iter().map(|s| s.unschedulable_pods * step_min).sum(),
        unschedulable_pod_minutes,
        unschedulable_pct: ratio(unschedulable_pod_minutes, refs.total_pod_minutes) * 100.0,
        cost_vs_oracle: ratio(cost_usd, refs.oracle_cost_usd),
        savings_vs_static_pct: (1.0 - ratio(cost_usd, refs.static_cost_usd)) * 100.0,
    }
}

fn describe(url: &str, config: &SimConfig, history: &History, peak_replicas: u64) -> String {
    format!(
        "history of {url}: {} to {} ({} days at {} s steps, {} range queries, {} held over holes); \
         peak {peak_replicas} replicas of 200 m / 256 MiB = {} nodes; Spot share {}, seed {}",
        config.start.format("%Y-%m-%d %H:%M UTC"),
        (config.start + chrono::Duration::days(i64::from(config.days))).format("%Y-%m-%d %H:%M UTC"),
        config.days,
        history.step_s,
        history.range_queries,
        history.filled_steps,
        config.peak_nodes,
        config.spot_share,
        config.seed
    )
}

/// The policies' rows and the actual fleet's, columns as wide as their widest cell.
fn table(policies: &[&Summary], actual: &Actual) -> String {
    let mut rows: Vec<Vec<(&str, String)>> = policies.iter().map(|s| s.cells()).collect();
    let Some(first) = rows.first().cloned() else { return String::new() };
    rows.push(
        first
            .iter()
            .map(|(heading, _)| {
                let cell = match *heading {
                    "policy" => actual.policy.to_string(),
                    "cost $" => format!("{:.2}", actual.cost_usd),
                    "× oracle" => format!("{:.2}", actual.cost_vs_oracle),
                    "vs static" => format!("{:+.1}%", -actual.savings_vs_static_pct),
                    "unsched. pod-min" => format!("{:.1}", actual.unschedulable_pod_minutes),
                    "unsched. %" => format!("{:.3}", actual.unschedulable_pct),
                    _ => "-".to_string(),
                };
                (*heading, cell)
            })
            .collect(),
    );
    crate::sim_args::aligned(&rows).join("\n")
}

/// The simulator's report of the policies, with the actual fleet's figures above its summary.
fn report(description: &str, runs: &[Run], actual: &Actual) -> String {
    let html = smartscale_sim::report::render(description, runs);
    let section = format!(
        "<h2>What the cluster actually ran</h2><p id=\"backtest-actual\">{} node-hours (mean {:.2}, min {}, max {} nodes) \
         priced as {} On-Demand at ${:.4}/h ({}): <b>${:.2}</b>, {:.2} × the oracle; {:.1} pod-minutes unschedulable.</p>\n",
        format_args!("{:.1}", actual.node_hours),
        actual.mean_nodes,
        actual.min_nodes,
        actual.max_nodes,
        escape(&actual.node_type),
        actual.price_per_node_hour_usd,
        escape(&actual.prices),
        actual.cost_usd,
        actual.cost_vs_oracle,
        actual.unschedulable_pod_minutes
    );
    match html.find("<h2>Summary</h2>") {
        Some(i) => format!("{}{section}{}", &html[..i], &html[i..]),
        None => html.replacen("</body>", &format!("{section}</body>"), 1),
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_are_one_to_five_minutes() {
        assert_eq!(parse_step("60s"), Ok(60));
        assert_eq!(parse_step("5m"), Ok(300));
        assert_eq!(parse_step("90"), Ok(90));
        assert!(parse_step("15s").unwrap_err().contains("between 1 and 5 minutes"));
        assert!(parse_step("1h").unwrap_err().contains("expected seconds or minutes"));
    }
}
