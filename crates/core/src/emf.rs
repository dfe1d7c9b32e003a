//! CloudWatch Embedded Metric Format: metrics as JSON log lines, which CloudWatch Logs turns
//! into metrics with no API call. Every Lambda records through this one helper.
//!
//! One line is written per dimension set: `[ClusterId]` for most metrics, `[ClusterId, Reason]`
//! or `[ClusterId, ErrorType]` where the spec gives a dimension.

use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

pub const NAMESPACE: &str = "SmartScale";

/// Dimensions whose metrics are also published under `[ClusterId]` alone, in the same line, so
/// an alarm sees the cluster-wide total (an alarm cannot sum over dimension values it does not
/// know). Not `Reason`: the drain worker's `ScaleDownEvents{ClusterId}` counts removals, and a
/// roll-up of the decider's requests would mix into it. `Trigger` (schedule or fast path):
/// the DeciderNotRunning alarm counts `AutoscalerInvocations{ClusterId}` over both.
const ROLLED_UP_DIMENSIONS: &[&str] = &["ErrorType", "Signal", "Trigger"];

/// The spec's CloudWatch metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    AutoscalerInvocations,
    ScaleUpEvents,
    ScaleDownEvents,
    ScalingFailures,
    NodeJoinLatency,
    LambdaExecutionTime,
    CurrentNodeCount,
    ClusterCpuUtilization,
    ClusterMemoryUtilization,
    PendingPods,
    SpotInterruptions,
    /// A signal the decider needs returned no data while Prometheus answered (its exporter is
    /// missing, or its query matches nothing); one per missing signal and run, `Signal` dimension.
    MissingSignals,
    /// The fleet's cost per hour (USD), from the price table: `[ClusterId]` for the whole
    /// fleet, `[ClusterId, Lifecycle]` and `[ClusterId, Lifecycle, InstanceType]` for its parts.
    FleetCostPerHour,
    /// What the baseline fleet (`COST_BASELINE_NODES` On-Demand nodes) would cost per hour.
    BaselineCostPerHour,
    /// Baseline minus fleet, USD per hour (negative when the fleet costs more).
    SavingsPerHour,
    /// Savings as a percentage of the baseline's cost.
    SavingsPercent,
    /// Spot nodes as a percentage of the active fleet.
    SpotShare,
    /// Active nodes whose type the price table does not know: the fleet's cost is then unknown
    /// and is not published.
    UnpricedNodes,
    /// Predictive scaling (`Mode` dimension): the forecast demand of the current slot, in nodes.
    ForecastDemand,
    /// The demand signal now (summed requests of running + pending pods), in nodes.
    ActualDemand,
    /// max(0, actual − forecast) and max(0, forecast − actual), nodes, per run: the asymmetric
    /// error per hour is (4 × Σ under + Σ over) / Σ actual over the hour's runs.
    ForecastUnderNodes,
    ForecastOverNodes,
    /// A pre-scale requested (active mode).
    PreScales,
    /// 1 when a pre-scale's window came and the demand was above the fleet the reactive decision
    /// would have kept, else 0 (Sum: used, SampleCount: judged).
    PreScalesUsed,
}

impl Metric {
    pub fn name(self) -> &'static str {
        match self {
            Metric::AutoscalerInvocations => "AutoscalerInvocations",
            Metric::ScaleUpEvents => "ScaleUpEvents",
            Metric::ScaleDownEvents => "ScaleDownEvents",
            Metric::ScalingFailures => "ScalingFailures",
            Metric::NodeJoinLatency => "NodeJoinLatency",
            Metric::LambdaExecutionTime => "LambdaExecutionTime",
            Metric::CurrentNodeCount => "CurrentNodeCount",
            Metric::ClusterCpuUtilization => "ClusterCPUUtilization",
            Metric::ClusterMemoryUtilization => "ClusterMemoryUtilization",
            Metric::PendingPods => "PendingPods",
            Metric::SpotInterruptions => "SpotInterruptions",
            Metric::MissingSignals => "MissingSignals",
            Metric::FleetCostPerHour => "FleetCostPerHour",
            Metric::BaselineCostPerHour => "BaselineCostPerHour",
            Metric::SavingsPerHour => "SavingsPerHour",
            Metric::SavingsPercent => "SavingsPercent",
            Metric::SpotShare => "SpotShare",
            Metric::UnpricedNodes => "UnpricedNodes",
            Metric::ForecastDemand => "ForecastDemand",
            Metric::ActualDemand => "ActualDemand",
            Metric::ForecastUnderNodes => "ForecastUnderNodes",
            Metric::ForecastOverNodes => "ForecastOverNodes",
            Metric::PreScales => "PreScales",
            Metric::PreScalesUsed => "PreScalesUsed",
        }
    }

    pub fn unit(self) -> &'static str {
        match self {
            Metric::NodeJoinLatency => "Seconds",
            Metric::LambdaExecutionTime => "Milliseconds",
            Metric::ClusterCpuUtilization
            | Metric::ClusterMemoryUtilization
            | Metric::SavingsPercent
            | Metric::SpotShare => "Percent",
            // CloudWatch has no currency unit: USD per hour, said in the metric's name and docs.
            Metric::FleetCostPerHour | Metric::BaselineCostPerHour | Metric::SavingsPerHour => "None",
            _ => "Count",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
struct Group {
    /// The dimensions besides `ClusterId`, in order.
    dimensions: Vec<(&'static str, String)>,
    values: Vec<(Metric, f64)>,
}

/// The metrics of one invocation, rendered as EMF lines.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricBatch {
    pub cluster_id: String,
    pub at: DateTime<Utc>,
    groups: Vec<Group>,
}

impl MetricBatch {
    pub fn new(cluster_id: impl Into<String>, at: DateTime<Utc>) -> Self {
        MetricBatch { cluster_id: cluster_id.into(), at, groups: Vec::new() }
    }

    /// Records `metric` with the `ClusterId` dimension only.
    pub fn put(&mut self, metric: Metric, value: f64) -> &mut Self {
        self.put_in(Vec::new(), metric, value)
    }

    /// Records `metric` with `ClusterId` and one more dimension (`Reason`, `ErrorType`).
    pub fn put_with(
        &mut self,
        dimension: &'static str,
        dimension_value: &str,
        metric: Metric,
        value: f64,
    ) -> &mut Self {
        self.put_in(vec![(dimension, dimension_value.to_string())], metric, value)
    }

    /// Records `metric` with `ClusterId` and several more dimensions (`Lifecycle`, `InstanceType`).
    pub fn put_with_all(&mut self, dimensions: &[(&'static str, &str)], metric: Metric, value: f64) -> &mut Self {
        self.put_in(dimensions.iter().map(|(k, v)| (*k, v.to_string())).collect(), metric, value)
    }

    fn put_in(&mut self, dimensions: Vec<(&'static str, String)>, metric: Metric, value: f64) -> &mut Self {
        if !value.is_finite() {
            return self; // unknown is not recorded as a number
        }
        match self.groups.iter_mut().find(|g| g.dimensions == dimensions) {
            Some(group) => group.values.push((metric, value)),
            None => self.groups.push(Group { dimensions, values: vec![(metric, value)] }),
        }
        self
    }

    /// The value recorded for `metric` under exactly these extra dimensions, if any.
    pub fn value_with(&self, dimensions: &[(&str, &str)], metric: Metric) -> Option<f64> {
        self.groups
            .iter()
            .filter(|g| {
                g.dimensions.len() == dimensions.len()
                    && g.dimensions.iter().zip(dimensions).all(|((k, v), (dk, dv))| k == dk && v == dv)
            })
            .flat_map(|g| g.values.iter())
            .find(|(m, _)| *m == metric)
            .map(|(_, v)| *v)
    }

    /// The value recorded for `metric`, if any (first one), for tests and summaries.
    pub fn value(&self, metric: Metric) -> Option<f64> {
        self.groups.iter().flat_map(|g| g.values.iter()).find(|(m, _)| *m == metric).map(|(_, v)| *v)
    }

    /// The dimension value `metric` was recorded with, if any.
    pub fn dimension(&self, metric: Metric) -> Option<(&'static str, &str)> {
        self.groups
            .iter()
            .find(|g| g.values.iter().any(|(m, _)| *m == metric))
            .and_then(|g| g.dimensions.first().map(|(k, v)| (*k, v.as_str())))
    }

    /// One JSON line per dimension set.
    pub fn lines(&self) -> Vec<String> {
        self.groups.iter().map(|g| self.line(g).to_string()).collect()
    }

    fn line(&self, group: &Group) -> Value {
        let mut dims = vec!["ClusterId"];
        let mut dimension_sets = Vec::new();
        let mut root = Map::new();
        root.insert("ClusterId".into(), self.cluster_id.clone().into());
        for (name, value) in &group.dimensions {
            dims.push(name);
            root.insert((*name).into(), value.clone().into());
            if ROLLED_UP_DIMENSIONS.contains(name) {
                dimension_sets.push(vec!["ClusterId"]);
            }
        }
        dimension_sets.insert(0, dims);
        let metrics: Vec<Value> =
            group.values.iter().map(|(m, _)| json!({"Name": m.name(), "Unit": m.unit()})).collect();
        for (metric, value) in &group.values {
            root.insert(metric.name().into(), json!(value));
        }
        root.insert(
            "_aws".into(),
            json!({
                "Timestamp": self.at.timestamp_millis(),
                "CloudWatchMetrics": [{"Namespace": NAMESPACE, "Dimensions": dimension_sets, "Metrics": metrics}],
            }),
        );
        Value::Object(root)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_one_line_per_dimension_set() {
        let mut batch = MetricBatch::new("prod", "2026-11-23T12:00:00Z".parse().unwrap());
        batch
            .put(Metric::AutoscalerInvocations, 1.0)
            .put(Metric::ClusterCpuUtilization, 81.5)
            .put(Metric::PendingPods, f64::NAN)
            .put_with("Reason", "cpu", Metric::ScaleUpEvents, 1.0);
        let lines = batch.lines();
        assert_eq!(lines.len(), 2);
        let first: Value = serde_json::from_str(&lines[0]).unwrap();
        assert_eq!(first["ClusterCPUUtilization"], 81.5);
        assert_eq!(first["_aws"]["CloudWatchMetrics"][0]["Namespace"], "SmartScale");
        assert_eq!(first["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0], json!(["ClusterId"]));
        assert_eq!(
            first["_aws"]["CloudWatchMetrics"][0]["Metrics"][1],
            json!({"Name": "ClusterCPUUtilization", "Unit": "Percent"})
        );
        assert!(first.get("PendingPods").is_none(), "unknown values are not recorded");
        let second: Value = serde_json::from_str(&lines[1]).unwrap();
        assert_eq!(second["Reason"], "cpu");
        assert_eq!(second["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0], json!(["ClusterId", "Reason"]));
        assert_eq!(second["_aws"]["Timestamp"], 1_795_435_200_000i64);
        assert_eq!(batch.dimension(Metric::ScaleUpEvents), Some(("Reason", "cpu")));
        assert_eq!(second["_aws"]["CloudWatchMetrics"][0]["Dimensions"].as_array().unwrap().len(), 1, "no roll-up");
    }

    #[test]
    fn failures_are_also_published_as_the_cluster_wide_total() {
        let mut batch = MetricBatch::new("prod", "2026-11-23T12:00:00Z".parse().unwrap());
        batch.put_with("ErrorType", "LaunchFailed", Metric::ScalingFailures, 2.0);
        let line: Value = serde_json::from_str(&batch.lines()[0]).unwrap();
        assert_eq!(line["ScalingFailures"], 2.0);
        assert_eq!(
            line["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["ClusterId", "ErrorType"], ["ClusterId"]])
        );
    }
}
