//! The yardsticks every run is measured against, computed from the demand alone: the oracle
//! (exactly the nodes needed at every instant, with perfect foresight) and the smallest static
//! fleet with no shortfall.

use smartscale_core::Result;
use smartscale_decider::DeciderConfig;

use crate::demand::{Demand, Window};
use crate::model::*;
use crate::timeline::{Event, EventKind, Point, Timeline};
use crate::world::{handler_config, Run};

#[derive(Debug, Clone, PartialEq)]
pub struct References {
    /// Nodes the oracle runs at each step: max(min_nodes, what the replicas need).
    needed: Vec<u32>,
    floor: u32,
    spot_share: f64,
    step_h: f64,
    pub oracle_cost_usd: f64,
    pub static_nodes: u32,
    pub static_cost_usd: f64,
    /// What the demand was taken from, for every run's summary.
    pub window: Window,
}

impl References {
    /// The yardsticks for `demand`, with the node floor the handlers are configured with.
    pub fn of(config: &SimConfig, demand: &Demand) -> Result<References> {
        let floor = DeciderConfig::from_config(&handler_config(config))?.policy.min_nodes;
        let step_h = config.step_s() as f64 / 3600.0;
        let needed: Vec<u32> = demand.replicas.iter().map(|r| nodes_for(*r).max(floor)).collect();
        let oracle_cost_usd = needed.iter().map(|n| fleet_price_per_hour(*n, floor, config.spot_share) * step_h).sum();
        let static_nodes = nodes_for(demand.peak_replicas()).max(floor);
        let static_cost_usd = fleet_price_per_hour(static_nodes, static_nodes, 0.0) * step_h * needed.len() as f64;
        Ok(References {
            needed,
            floor,
            spot_share: config.spot_share,
            step_h,
            oracle_cost_usd,
            static_nodes,
            static_cost_usd,
            window: demand.window.clone(),
        })
    }

    pub fn fill(&self, summary: &mut Summary) {
        summary.oracle_cost_usd = self.oracle_cost_usd;
        summary.static_nodes = self.static_nodes;
        summary.static_cost_usd = self.static_cost_usd;
        summary.window = Some(self.window.clone());
    }

    /// The oracle as a policy: never short, every change instant.
    pub fn oracle_run(&self, config: &SimConfig, demand: &Demand) -> Run {
        let mut summary =
            Summary { policy: PolicyName::Oracle.as_str().into(), days: f64::from(config.days), ..Summary::default() };
        let mut timeline = Timeline::default();
        let mut cost = 0.0;
        for (step, (nodes, replicas)) in self.needed.iter().zip(&demand.replicas).enumerate() {
            let hour = step as f64 * self.step_h;
            cost += fleet_price_per_hour(*nodes, self.floor, self.spot_share) * self.step_h;
            summary.node_hours += f64::from(*nodes) * self.step_h;
            summary.total_pod_minutes += *replicas as f64 * self.step_h * 60.0;
            summary.max_nodes_seen = summary.max_nodes_seen.max(*nodes);
            if let Some(previous) = step.checked_sub(1).map(|s| self.needed[s]) {
                if *nodes != previous {
                    let kind = if *nodes > previous { EventKind::ScaleUp } else { EventKind::ScaleDown };
                    timeline.events.push(Event { hour, kind });
                }
            }
            timeline.observe(
                step as i64,
                Point {
                    hour,
                    demand_pods: *replicas,
                    capacity_pods: u64::from(*nodes) * pods_per_node(),
                    nodes: *nodes,
                    pending_pods: 0,
                    cumulative_cost_usd: cost,
                },
            );
        }
        summary.cost_usd = cost;
        summary.scale_ups = timeline.count(EventKind::ScaleUp);
        summary.scale_downs = timeline.count(EventKind::ScaleDown);
        summary.thrash_events = timeline.thrash_events(0.25);
        self.fill(&mut summary);
        summary.finish();
        Run { summary, timeline, cost_reports: Vec::new() }
    }
}
