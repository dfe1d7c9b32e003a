//! Query configuration checked at cold start: no Prometheus needed.

use smartscale_core::config::MapConfig;
use smartscale_core::Error;
use smartscale_prometheus::{check_promql, PrometheusConfig, Queries, StatusLabel, STATUS_LABEL_VAR};

fn base() -> MapConfig {
    MapConfig::new().with("PROMETHEUS_URL", "http://127.0.0.1:9090")
}

fn config_error_var(result: Result<PrometheusConfig, Error>) -> (String, String) {
    match result {
        Err(Error::Config { var, message }) => (var, message),
        other => panic!("expected a config error: {other:?}"),
    }
}

#[test]
fn every_default_query_parses_as_an_instant_vector() {
    for label in [StatusLabel::Status, StatusLabel::Code] {
        let q = Queries { error_rate: smartscale_prometheus::error_rate(label), ..Queries::default() };
        for (var, promql) in q.by_variable() {
            check_promql(promql).unwrap_or_else(|e| panic!("default for {var}: {e}"));
        }
    }
}

#[test]
fn a_promql_that_does_not_parse_is_refused_naming_its_variable() {
    for (var, _) in Queries::default().by_variable() {
        let (got, message) = config_error_var(PrometheusConfig::from_config(&base().with(var, "sum(rate(")));
        assert_eq!(got, var);
        assert!(message.contains("does not parse") && message.contains("sum(rate("), "{message}");
    }
    // An unknown function and a misspelt label matcher fail the same way.
    for bad in ["sum(rat(http_requests_total[2m]))", r#"sum(app_queue_depth{queue=="jobs"})"#] {
        let (var, _) = config_error_var(PrometheusConfig::from_config(&base().with("PROMQL_QUEUE_DEPTH", bad)));
        assert_eq!(var, "PROMQL_QUEUE_DEPTH", "{bad}");
    }
}

#[test]
fn a_query_that_returns_a_range_vector_or_scalar_is_refused() {
    for (bad, kind) in [("app_queue_depth[5m]", "matrix"), ("scalar(sum(app_queue_depth))", "scalar")] {
        let (var, message) = config_error_var(PrometheusConfig::from_config(&base().with("PROMQL_QUEUE_DEPTH", bad)));
        assert_eq!(var, "PROMQL_QUEUE_DEPTH");
        assert!(message.contains(kind), "{message}");
    }
}

#[test]
fn the_error_rate_reads_the_configured_status_label_and_never_a_bare_zero() {
    let default = PrometheusConfig::from_config(&base()).unwrap().queries.error_rate;
    assert!(default.contains(r#"status=~"5.."#) && !default.contains("code"), "{default}");
    assert!(!default.contains("vector(0)"), "a bare vector(0) reads a missing series as 0 %: {default}");
    let code = PrometheusConfig::from_config(&base().with(STATUS_LABEL_VAR, "code")).unwrap().queries.error_rate;
    assert!(code.contains(r#"code=~"5.."#) && !code.contains("status"), "{code}");

    let (var, message) = config_error_var(PrometheusConfig::from_config(&base().with(STATUS_LABEL_VAR, "http_code")));
    assert_eq!(var, STATUS_LABEL_VAR);
    assert!(message.contains("http_code"), "{message}");

    // Both set: the label would be silently ignored, so it is refused.
    let both = base().with(STATUS_LABEL_VAR, "code").with("PROMQL_ERROR_RATE", "sum(rate(errors_total[2m]))");
    assert_eq!(config_error_var(PrometheusConfig::from_config(&both)).0, STATUS_LABEL_VAR);
    let custom = base().with("PROMQL_ERROR_RATE", "sum(rate(errors_total[2m]))");
    assert_eq!(PrometheusConfig::from_config(&custom).unwrap().queries.error_rate, "sum(rate(errors_total[2m]))");
}
