//! The HTML report: self-contained, with every chart and the summary table.

use smartscale_sim::report::{capacity_chart_id, render, COST_CHART_ID, PENDING_CHART_ID, SUMMARY_TABLE_ID};
use smartscale_sim::{compare, SimConfig};

#[test]
fn the_report_holds_every_chart_and_the_summary() {
    let runs = compare(&SimConfig::new(1), &mut |_| {}).unwrap();
    let html = render("the synthetic week, 1 day", &runs);
    assert!(html.starts_with("<!DOCTYPE html>"));
    for id in [COST_CHART_ID, PENDING_CHART_ID, SUMMARY_TABLE_ID] {
        assert!(html.contains(&format!("id=\"{id}\"")), "missing {id}");
    }
    for policy in ["smartscale", "predictive", "reactive-seed", "ca-like", "static", "static-5"] {
        assert!(html.contains(&format!("id=\"{}\"", capacity_chart_id(policy))), "missing the {policy} chart");
        assert!(html.contains(&format!("<td>{policy}</td>")), "missing {policy} in the table");
    }
    assert!(html.contains("<td>oracle</td>") && !html.contains(&capacity_chart_id("oracle")));
    // Axes, units and legends.
    for text in [
        "hours since the start",
        "cost (USD)",
        "pending pods",
        "replicas (pods)",
        "billed nodes, booting included (right axis)",
        "scale-up",
    ] {
        assert!(html.contains(text), "missing {text:?}");
    }
    assert_eq!(html.matches("<svg").count(), 2 + 6);
    // Self-contained: nothing to fetch.
    assert!(!html.contains("<script") && !html.contains("<link") && !html.contains("src="));
    assert_eq!(html.matches("http").count(), html.matches("http://www.w3.org/2000/svg").count());
}
