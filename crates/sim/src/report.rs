//! `--report FILE.html`: one self-contained page with inline SVG charts and the summary table.

use std::fmt::Write;

use crate::svg::{escape, Axis, Chart, Marker, Series};
use crate::timeline::EventKind;
use crate::Run;

/// Chart ids, so tests and readers can find each chart.
pub const COST_CHART_ID: &str = "chart-cumulative-cost";
pub const PENDING_CHART_ID: &str = "chart-pending-pods";
pub const SUMMARY_TABLE_ID: &str = "summary";
pub const WINDOW_ID: &str = "window";

pub fn capacity_chart_id(policy: &str) -> String {
    format!("chart-capacity-{policy}")
}

fn color(policy: &str) -> &'static str {
    match policy {
        "smartscale" => "#1f77b4",
        "predictive" => "#17becf",
        "reactive-seed" => "#ff7f0e",
        "ca-like" => "#2ca02c",
        "static" => "#7f7f7f",
        "static-5" => "#8c564b",
        "oracle" => "#9467bd",
        _ => "#000000",
    }
}

const X_LABEL: &str = "hours since the start";

/// The whole page. `description` says what was simulated.
pub fn render(description: &str, runs: &[Run]) -> String {
    let mut html = String::new();
    html.push_str(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>SmartScale simulation report</title>\n<style>\
         body{font-family:sans-serif;margin:24px;color:#222;max-width:1140px}\
         h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 6px}p{margin:4px 0}\
         .chart{display:block;margin:6px 0;background:#fff;border:1px solid #ddd}\
         .title{font-size:14px;font-weight:bold}.tick{font-size:11px;fill:#555}.axis{font-size:12px;fill:#333}\
         .legend{font-size:12px}.marker{font-size:10px}\
         table{border-collapse:collapse;font-size:12px;margin-top:8px}th,td{border:1px solid #ccc;padding:3px 6px;text-align:right}\
         th:first-child,td:first-child{text-align:left}\
         </style></head><body>\n",
    );
    let _ = writeln!(html, "<h1>SmartScale simulation report</h1><p>{}</p>", escape(description));
    // Every run replays the same window; the first says which.
    let window = runs.first().and_then(|r| r.summary.window.as_ref()).map(|w| w.describe());
    let _ =
        writeln!(html, "<p id=\"{WINDOW_ID}\">Window: {}</p>", escape(window.as_deref().unwrap_or("unknown (no run)")));

    html.push_str("<h2>Summary</h2>\n");
    html.push_str(&summary_table(runs));

    html.push_str("<h2>Cumulative cost</h2><p>What each policy has spent so far, in US dollars.</p>\n");
    html.push_str(&cost_chart(runs).render());

    html.push_str("<h2>Pending pods</h2><p>Replicas waiting for capacity: every pod here is a shortfall.</p>\n");
    html.push_str(&pending_chart(runs).render());

    html.push_str(
        "<h2>Demand and capacity</h2><p>Replicas the load asks for against the replica slots on Ready nodes, with the \
         billed nodes on the right axis; scale-ups ▲, scale-downs ▼ and Spot interruptions ✕ along the bottom.</p>\n",
    );
    for run in runs.iter().filter(|r| r.summary.policy != "oracle") {
        html.push_str(&capacity_chart(run).render());
    }
    html.push_str("\n</body></html>\n");
    html
}

fn summary_table(runs: &[Run]) -> String {
    let rows: Vec<Vec<(&str, String)>> = runs.iter().map(|r| r.summary.cells()).collect();
    let mut t = format!("<table id=\"{SUMMARY_TABLE_ID}\">");
    if let Some(first) = rows.first() {
        t.push_str("<tr>");
        for (heading, _) in first {
            let _ = write!(t, "<th>{}</th>", escape(heading));
        }
        t.push_str("</tr>");
    }
    for row in &rows {
        t.push_str("<tr>");
        for (_, cell) in row {
            let _ = write!(t, "<td>{}</td>", escape(cell));
        }
        t.push_str("</tr>");
    }
    t.push_str("</table>\n");
    t
}

fn cost_chart(runs: &[Run]) -> Chart {
    Chart {
        id: COST_CHART_ID.into(),
        title: "Cumulative cost per policy".into(),
        x_label: X_LABEL.into(),
        left_label: "cost (USD)".into(),
        right_label: None,
        series: runs
            .iter()
            .map(|r| Series {
                name: r.summary.policy.clone(),
                color: color(&r.summary.policy),
                axis: Axis::Left,
                steps: false,
                dashed: r.summary.policy == "oracle",
                points: r.timeline.points.iter().map(|p| (p.hour, p.cumulative_cost_usd)).collect(),
            })
            .collect(),
        markers: vec![],
    }
}

fn pending_chart(runs: &[Run]) -> Chart {
    Chart {
        id: PENDING_CHART_ID.into(),
        title: "Pending pods over time".into(),
        x_label: X_LABEL.into(),
        left_label: "pending pods".into(),
        right_label: None,
        // Drawn in reverse so that SmartScale's line is on top.
        series: runs
            .iter()
            .rev()
            .filter(|r| r.summary.policy != "oracle")
            .map(|r| Series {
                name: r.summary.policy.clone(),
                color: color(&r.summary.policy),
                axis: Axis::Left,
                steps: true,
                dashed: false,
                points: r.timeline.points.iter().map(|p| (p.hour, p.pending_pods as f64)).collect(),
            })
            .collect(),
        markers: vec![],
    }
}

fn capacity_chart(run: &Run) -> Chart {
    let points = &run.timeline.points;
    let markers = |kind: EventKind, color: &'static str, symbol: &'static str| {
        run.timeline.events.iter().filter(|e| e.kind == kind).map(|e| Marker { x: e.hour, color, symbol }).collect()
    };
    Chart {
        id: capacity_chart_id(&run.summary.policy),
        title: format!("Demand vs ready capacity vs nodes: {}", run.summary.policy),
        x_label: X_LABEL.into(),
        left_label: "replicas (pods)".into(),
        right_label: Some("nodes".into()),
        series: vec![
            Series {
                name: "demand".into(),
                color: "#d62728",
                axis: Axis::Left,
                steps: false,
                dashed: false,
                points: points.iter().map(|p| (p.hour, p.demand_pods as f64)).collect(),
            },
            Series {
                name: "ready capacity".into(),
                color: "#1f77b4",
                axis: Axis::Left,
                steps: true,
                dashed: false,
                points: points.iter().map(|p| (p.hour, p.capacity_pods as f64)).collect(),
            },
            Series {
                name: "billed nodes, booting included".into(),
                color: "#555555",
                axis: Axis::Right,
                steps: true,
                dashed: true,
                points: points.iter().map(|p| (p.hour, f64::from(p.nodes))).collect(),
            },
        ],
        markers: vec![
            ("scale-up".into(), markers(EventKind::ScaleUp, "#2ca02c", "▲")),
            ("scale-down".into(), markers(EventKind::ScaleDown, "#ff7f0e", "▼")),
            ("Spot interruption".into(), markers(EventKind::SpotInterruption, "#d62728", "✕")),
        ],
    }
}
