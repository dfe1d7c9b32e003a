//! A decision scenario: everything `decide` needs, as one JSON document. The schema is
//! documented in docs/SCALING_ALGORITHM.md; `smartscale decide` reads it.

use chrono::{DateTime, Utc};
use serde::Deserialize;

use smartscale_core::decide::{decide, Decision, DecisionState};
use smartscale_core::error::from_json_str;
use smartscale_core::metrics::{Sample, Signal};
use smartscale_core::policy::{Policy, PolicyOverrides};
use smartscale_core::{Error, Result};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub now: DateTime<Utc>,
    #[serde(default)]
    pub policy: PolicyOverrides,
    pub state: DecisionState,
    #[serde(default)]
    pub samples: Vec<Sample>,
}

impl Scenario {
    /// Parses and validates a scenario; errors name the field (`samples[2].cpu_pct`).
    pub fn parse(text: &str) -> Result<Scenario> {
        let scenario: Scenario = from_json_str(text)?;
        for (i, sample) in scenario.samples.iter().enumerate() {
            validate_sample(sample)
                .map_err(|(field, message)| Error::invalid(format!("samples[{i}].{field}"), message))?;
        }
        Ok(scenario)
    }

    pub fn decide(&self) -> Result<Decision> {
        let policy = Policy::default().with_overrides(&self.policy)?;
        Ok(decide(&policy, &self.state, &self.samples, self.now))
    }
}

/// Rejects values no real metric can take.
fn validate_sample(sample: &Sample) -> std::result::Result<(), (&'static str, String)> {
    for (signal, field, max) in [
        (Signal::Cpu, "cpu_pct", 100.0),
        (Signal::Memory, "mem_pct", 100.0),
        (Signal::ErrorRate, "error_rate_pct", 100.0),
        (Signal::QueueDepth, "queue_depth", f64::INFINITY),
        (Signal::P95Latency, "p95_latency_s", f64::INFINITY),
    ] {
        if let Some(v) = signal.value(sample) {
            if !(0.0..=max).contains(&v) {
                let range = if max.is_finite() { format!("between 0 and {max}") } else { "non-negative".to_string() };
                return Err((field, format!("must be {range}, got {v}")));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use smartscale_core::decide::Action;

    const OK: &str = r#"{"now":"2026-11-23T12:00:00Z","state":{"node_count":10},
        "samples":[{"at":"2026-11-23T12:00:00Z","cpu_pct":50,"mem_pct":90}]}"#;

    #[test]
    fn runs_a_scenario() {
        let d = Scenario::parse(OK).unwrap().decide().unwrap();
        assert_eq!(d.action, Action::None);
        assert_eq!(d.blocked_by, Some(smartscale_core::BlockedBy::MaxNodes));
    }

    #[test]
    fn errors_name_the_field() {
        let cases = [
            (OK.replace("\"cpu_pct\":50", "\"cpu_pct\":\"high\""), "samples[0].cpu_pct"),
            (OK.replace("\"cpu_pct\":50", "\"cpu_pct\":150"), "samples[0].cpu_pct"),
            (OK.replace("\"node_count\":10", "\"node_count\":-1"), "state.node_count"),
            (OK.replace("\"now\"", "\"when\""), "when"),
            (
                OK.replace("{\"node_count\":10}", "{\"node_count\":10},\"policy\":{\"min_nodes\":11}"),
                "policy.min_nodes",
            ),
            (OK.replace("{\"node_count\":10}", "{\"node_count\":10},\"policy\":{\"min_node\":1}"), "policy.min_node"),
        ];
        for (text, field) in cases {
            let err = Scenario::parse(&text).and_then(|s| s.decide()).unwrap_err();
            match err {
                Error::Invalid { field: got, .. } => assert_eq!(got, field, "{text}"),
                other => panic!("{text}: {other}"),
            }
        }
    }
}
