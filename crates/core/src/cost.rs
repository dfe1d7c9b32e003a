//! What the fleet costs now, against the baseline it replaces: the hourly cost metric.
//!
//! The decider calls [`put_fleet_cost`] on every run with the instances it described, so
//! CloudWatch gets the fleet's cost per hour by lifecycle and instance type, the baseline's cost
//! (`COST_BASELINE_NODES` On-Demand nodes of `COST_BASELINE_INSTANCE_TYPE`), the savings and the
//! Spot share. A node whose type the price table does not know makes the fleet's cost unknown:
//! the totals are then not published (unknown is never zero) and `UnpricedNodes` says why.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::config::{self, ConfigSource};
use crate::emf::{Metric, MetricBatch};
use crate::ports::{Instance, Lifecycle};
use crate::pricing::PriceTable;
use crate::{Error, Result};

/// The spec's client runs 5 On-Demand nodes before SmartScale.
pub const DEFAULT_BASELINE_NODES: u32 = 5;
/// The first of the default `INSTANCE_TYPES`.
pub const DEFAULT_BASELINE_INSTANCE_TYPE: &str = "t3.small";

/// The fleet SmartScale's savings are measured against: `nodes` On-Demand `instance_type`s.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Baseline {
    pub nodes: u32,
    pub instance_type: String,
}

/// Prices and baseline, read once at cold start by every Lambda that reports cost.
#[derive(Debug, Clone, PartialEq)]
pub struct CostConfig {
    pub prices: PriceTable,
    pub baseline: Baseline,
}

impl CostConfig {
    /// `PRICE_TABLE_JSON` (see [`PriceTable::from_config`]), `COST_BASELINE_NODES` (5) and
    /// `COST_BASELINE_INSTANCE_TYPE` (the first of `INSTANCE_TYPES`, else t3.small), which the
    /// price table must know.
    pub fn from_config(source: &dyn ConfigSource) -> Result<Self> {
        let prices = PriceTable::from_config(source)?;
        let nodes = config::parsed(source, "COST_BASELINE_NODES")?.unwrap_or(DEFAULT_BASELINE_NODES);
        if nodes == 0 {
            return Err(Error::config(
                "COST_BASELINE_NODES",
                "must be at least 1: savings against nothing are undefined",
            ));
        }
        let first_type = config::optional(source, "INSTANCE_TYPES")
            .and_then(|types| types.split(',').map(|t| t.trim().to_string()).find(|t| !t.is_empty()));
        // The error names the variable the type came from.
        let (var, instance_type) = match (config::optional(source, "COST_BASELINE_INSTANCE_TYPE"), first_type) {
            (Some(t), _) => ("COST_BASELINE_INSTANCE_TYPE", t),
            (None, Some(t)) => ("INSTANCE_TYPES", t),
            (None, None) => ("COST_BASELINE_INSTANCE_TYPE", DEFAULT_BASELINE_INSTANCE_TYPE.to_string()),
        };
        if prices.on_demand_per_hour(&instance_type).is_none() {
            return Err(Error::config(
                var,
                format!("{instance_type} has no On-Demand price in the price table ({})", prices.describe()),
            ));
        }
        Ok(CostConfig { prices, baseline: Baseline { nodes, instance_type } })
    }

    /// The baseline's cost per hour.
    pub fn baseline_per_hour(&self) -> f64 {
        let price = self.prices.on_demand_per_hour(&self.baseline.instance_type).unwrap_or(f64::NAN);
        price * f64::from(self.baseline.nodes)
    }
}

/// Nodes and their cost per hour, for one part of the fleet.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct CostPart {
    pub nodes: u32,
    pub usd_per_hour: f64,
}

/// The active fleet's cost at one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct FleetCost {
    /// Priced active nodes by (lifecycle, instance type).
    pub parts: BTreeMap<(Lifecycle, String), CostPart>,
    /// Active nodes of a type the price table does not know.
    pub unpriced_nodes: u32,
    pub spot_nodes: u32,
    pub active_nodes: u32,
    pub baseline_usd_per_hour: f64,
}

impl FleetCost {
    /// The fleet's cost per hour; `None` when any active node is unpriced.
    pub fn usd_per_hour(&self) -> Option<f64> {
        (self.unpriced_nodes == 0).then(|| self.parts.values().map(|p| p.usd_per_hour).sum())
    }

    /// The cost per hour of one lifecycle's nodes; `None` when any active node is unpriced.
    pub fn lifecycle_usd_per_hour(&self, lifecycle: Lifecycle) -> Option<f64> {
        (self.unpriced_nodes == 0)
            .then(|| self.parts.iter().filter(|((l, _), _)| *l == lifecycle).map(|(_, p)| p.usd_per_hour).sum())
    }

    pub fn savings_per_hour(&self) -> Option<f64> {
        self.usd_per_hour().map(|cost| self.baseline_usd_per_hour - cost)
    }

    pub fn savings_pct(&self) -> Option<f64> {
        self.savings_per_hour().map(|s| 100.0 * s / self.baseline_usd_per_hour)
    }

    /// Spot nodes as a percentage of the active fleet; `None` for an empty fleet.
    pub fn spot_share_pct(&self) -> Option<f64> {
        (self.active_nodes > 0).then(|| 100.0 * f64::from(self.spot_nodes) / f64::from(self.active_nodes))
    }
}

/// The cost of the active (pending or running) instances among `instances`.
pub fn fleet_cost(instances: &[Instance], cost: &CostConfig) -> FleetCost {
    let mut parts: BTreeMap<(Lifecycle, String), CostPart> = BTreeMap::new();
    let (mut unpriced_nodes, mut spot_nodes, mut active_nodes) = (0, 0, 0);
    for instance in instances.iter().filter(|i| i.state.is_active()) {
        active_nodes += 1;
        if instance.lifecycle == Lifecycle::Spot {
            spot_nodes += 1;
        }
        match cost.prices.per_hour(&instance.instance_type, instance.lifecycle) {
            Some(price) => {
                let part = parts.entry((instance.lifecycle, instance.instance_type.clone())).or_default();
                part.nodes += 1;
                part.usd_per_hour += price;
            }
            None => unpriced_nodes += 1,
        }
    }
    FleetCost { parts, unpriced_nodes, spot_nodes, active_nodes, baseline_usd_per_hour: cost.baseline_per_hour() }
}

/// Records the fleet's cost metrics in `batch` (see the module's documentation).
pub fn put_fleet_cost(batch: &mut MetricBatch, fleet: &FleetCost) {
    batch.put(Metric::BaselineCostPerHour, fleet.baseline_usd_per_hour);
    batch.put(Metric::UnpricedNodes, f64::from(fleet.unpriced_nodes));
    if let Some(share) = fleet.spot_share_pct() {
        batch.put(Metric::SpotShare, share);
    }
    if let (Some(total), Some(savings), Some(pct)) =
        (fleet.usd_per_hour(), fleet.savings_per_hour(), fleet.savings_pct())
    {
        batch.put(Metric::FleetCostPerHour, total);
        batch.put(Metric::SavingsPerHour, savings);
        batch.put(Metric::SavingsPercent, pct);
        for lifecycle in [Lifecycle::OnDemand, Lifecycle::Spot] {
            let value = fleet.lifecycle_usd_per_hour(lifecycle).unwrap_or(f64::NAN);
            batch.put_with("Lifecycle", lifecycle.as_str(), Metric::FleetCostPerHour, value);
        }
    }
    // The per-type figures are exact even when another type is unpriced.
    for ((lifecycle, instance_type), part) in &fleet.parts {
        batch.put_with_all(
            &[("Lifecycle", lifecycle.as_str()), ("InstanceType", instance_type)],
            Metric::FleetCostPerHour,
            part.usd_per_hour,
        );
    }
}

/// The cost metrics of `instances` in one call: what the decider adds to its batch each run.
pub fn record_fleet_cost(batch: &mut MetricBatch, instances: &[Instance], cost: &CostConfig) -> FleetCost {
    let fleet = fleet_cost(instances, cost);
    put_fleet_cost(batch, &fleet);
    fleet
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::MapConfig;
    use crate::ports::InstanceState;

    fn instance(id: &str, instance_type: &str, lifecycle: Lifecycle, state: InstanceState) -> Instance {
        Instance {
            instance_id: id.into(),
            instance_type: instance_type.into(),
            availability_zone: "us-east-1a".into(),
            subnet_id: "subnet-a".into(),
            lifecycle,
            state,
            private_dns_name: None,
            launched_at: None,
            tags: Default::default(),
        }
    }

    fn close(a: Option<f64>, b: f64) -> bool {
        a.is_some_and(|a| (a - b).abs() < 1e-9)
    }

    #[test]
    fn the_baseline_is_the_specs_five_on_demand_nodes_of_the_first_type() {
        let cost = CostConfig::from_config(&MapConfig::new()).unwrap();
        assert_eq!(cost.baseline, Baseline { nodes: 5, instance_type: "t3.small".into() });
        assert!((cost.baseline_per_hour() - 0.104).abs() < 1e-12);
        let cost = CostConfig::from_config(&MapConfig::new().with("INSTANCE_TYPES", "t3a.medium,t3.small")).unwrap();
        assert_eq!(cost.baseline.instance_type, "t3a.medium");
        for (cfg, var) in [
            (MapConfig::new().with("COST_BASELINE_NODES", "0"), "COST_BASELINE_NODES"),
            (MapConfig::new().with("COST_BASELINE_NODES", "five"), "COST_BASELINE_NODES"),
            (MapConfig::new().with("COST_BASELINE_INSTANCE_TYPE", "m5.large"), "COST_BASELINE_INSTANCE_TYPE"),
            (MapConfig::new().with("PRICE_TABLE_JSON", "{}"), "PRICE_TABLE_JSON"),
        ] {
            match CostConfig::from_config(&cfg) {
                Err(Error::Config { var: got, .. }) => assert_eq!(got, var),
                other => panic!("{var}: {other:?}"),
            }
        }
    }

    #[test]
    fn metrics_by_lifecycle_and_type_with_savings_and_spot_share() {
        use InstanceState::*;
        let cost = CostConfig::from_config(&MapConfig::new()).unwrap();
        let fleet = [
            instance("i-1", "t3.small", Lifecycle::OnDemand, Running),
            instance("i-2", "t3.small", Lifecycle::OnDemand, Running),
            instance("i-3", "t3.small", Lifecycle::Spot, Pending),
            instance("i-4", "t3a.small", Lifecycle::Spot, Running),
            instance("i-5", "t3.large", Lifecycle::OnDemand, Terminated),
        ];
        let mut batch = MetricBatch::new("prod", "2026-11-23T12:00:00Z".parse().unwrap());
        let summary = record_fleet_cost(&mut batch, &fleet, &cost);
        let spot = 0.0208 * 0.35 + 0.0188 * 0.35;
        let total = 2.0 * 0.0208 + spot;
        assert_eq!(summary.active_nodes, 4);
        assert!(close(batch.value(Metric::FleetCostPerHour), total));
        assert!(close(batch.value_with(&[("Lifecycle", "spot")], Metric::FleetCostPerHour), spot));
        assert!(close(batch.value_with(&[("Lifecycle", "on-demand")], Metric::FleetCostPerHour), 0.0416));
        assert!(close(
            batch.value_with(&[("Lifecycle", "spot"), ("InstanceType", "t3a.small")], Metric::FleetCostPerHour),
            0.0188 * 0.35
        ));
        assert!(close(batch.value(Metric::BaselineCostPerHour), 0.104));
        assert!(close(batch.value(Metric::SavingsPerHour), 0.104 - total));
        assert!(close(batch.value(Metric::SavingsPercent), 100.0 * (0.104 - total) / 0.104));
        assert!(close(batch.value(Metric::SpotShare), 50.0));
        assert!(close(batch.value(Metric::UnpricedNodes), 0.0));
        // The three-dimension line is valid EMF.
        let lines: Vec<serde_json::Value> = batch.lines().iter().map(|l| serde_json::from_str(l).unwrap()).collect();
        let typed = lines.iter().find(|l| l.get("InstanceType") == Some(&"t3a.small".into())).unwrap();
        assert_eq!(
            typed["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0],
            serde_json::json!(["ClusterId", "Lifecycle", "InstanceType"])
        );
    }

    #[test]
    fn an_unpriced_node_makes_the_totals_unknown_not_zero() {
        let cost = CostConfig::from_config(&MapConfig::new()).unwrap();
        let fleet = [
            instance("i-1", "t3.small", Lifecycle::OnDemand, InstanceState::Running),
            instance("i-2", "m7g.metal", Lifecycle::OnDemand, InstanceState::Running),
        ];
        let mut batch = MetricBatch::new("prod", "2026-11-23T12:00:00Z".parse().unwrap());
        record_fleet_cost(&mut batch, &fleet, &cost);
        assert_eq!(batch.value(Metric::UnpricedNodes), Some(1.0));
        assert_eq!(batch.value_with(&[], Metric::FleetCostPerHour), None);
        assert_eq!(batch.value(Metric::SavingsPercent), None);
        assert!(close(
            batch.value_with(&[("Lifecycle", "on-demand"), ("InstanceType", "t3.small")], Metric::FleetCostPerHour),
            0.0208
        ));
        assert!(close(batch.value(Metric::BaselineCostPerHour), 0.104));
    }
}
