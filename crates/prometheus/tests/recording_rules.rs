//! The cluster's recording rules (k8s/infrastructure/monitoring/prometheus/rules/recording.yml)
//! compute exactly the signals the decider reads: each rule's `expr` is the default query of one
//! `Queries` field, character for character, so Grafana and the decider show the same numbers.
//! The rules file writes each `expr` JSON-quoted on the line after its `record`, which is what
//! lets this test read it without a YAML parser.

use std::collections::BTreeSet;
use std::path::Path;

use smartscale_prometheus::Queries;

/// Each recording rule and the decider variable whose default query it records.
const RULES: [(&str, &str); 12] = [
    ("smartscale:cpu_busy:percent", "PROMQL_CPU"),
    ("smartscale:memory_used:percent", "PROMQL_MEMORY"),
    ("smartscale:pods_unschedulable:count", "PROMQL_PENDING_PODS"),
    ("smartscale:nodes:count", "PROMQL_NODE_COUNT"),
    ("smartscale:queue_depth:sum", "PROMQL_QUEUE_DEPTH"),
    ("smartscale:http_request_duration_seconds:p95", "PROMQL_P95_LATENCY"),
    ("smartscale:http_errors:percent", "PROMQL_ERROR_RATE"),
    ("smartscale:pending_cpu:millicores", "PROMQL_PENDING_CPU"),
    ("smartscale:pending_memory:bytes", "PROMQL_PENDING_MEMORY"),
    ("smartscale:requested_cpu:millicores", "PROMQL_REQUESTED_CPU"),
    ("smartscale:requested_memory:bytes", "PROMQL_REQUESTED_MEMORY"),
    ("smartscale:pods_unhostable:count", "PROMQL_UNHOSTABLE_PODS"),
];

/// Rules in the file that are not decider signals (dashboard and alert helpers).
const NOT_SIGNALS: [&str; 2] = ["smartscale:worker_nodes:max", "smartscale:worker_nodes:count"];

fn rules_file() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../k8s/infrastructure/monitoring/prometheus/rules/recording.yml");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The `expr` recorded as `record`, decoded from its JSON-quoted form.
fn expr_of(text: &str, record: &str) -> Option<String> {
    let mut lines = text.lines();
    lines.find(|l| l.trim() == format!("- record: {record}"))?;
    let expr = lines.next()?.trim().strip_prefix("expr: ")?;
    Some(
        serde_json::from_str(expr)
            .unwrap_or_else(|e| panic!("{record}: expr is not one JSON-quoted string ({e}): {expr}")),
    )
}

#[test]
fn each_recording_rule_is_the_deciders_default_query() {
    let text = rules_file();
    let queries = Queries::default();
    let by_variable = queries.by_variable();
    for (record, variable) in RULES {
        let (_, query) =
            by_variable.iter().find(|(v, _)| *v == variable).unwrap_or_else(|| panic!("no query {variable}"));
        let expr = expr_of(&text, record).unwrap_or_else(|| panic!("recording.yml has no rule {record}"));
        assert_eq!(
            expr,
            *query,
            "{record} drifted from the decider's {variable}; the line should read:\n        expr: {}",
            serde_json::to_string(query).unwrap()
        );
    }
}

#[test]
fn every_decider_query_is_recorded_and_nothing_else_is_unchecked() {
    let text = rules_file();
    let in_file: BTreeSet<&str> = text.lines().filter_map(|l| l.trim().strip_prefix("- record: ")).collect();
    let known: BTreeSet<&str> = RULES.iter().map(|(r, _)| *r).chain(NOT_SIGNALS).collect();
    assert_eq!(in_file, known);
    let variables: BTreeSet<&str> = RULES.iter().map(|(_, v)| *v).collect();
    let all: BTreeSet<&str> = Queries::default().by_variable().iter().map(|(v, _)| *v).collect();
    assert_eq!(variables, all, "a decider query without a recording rule");
}
