//! Where a new instance goes and how it is bought: the AZ with the fewest managed instances
//! first (ties by the fewest On-Demand ones for an On-Demand instance, then by subnet order);
//! the first `min_on_demand` instances On-Demand, then a Spot share, with every other (type, AZ)
//! pool as a fallback and On-Demand last.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::messages::Offering;
use crate::ports::{Instance, Lifecycle};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subnet {
    pub subnet_id: String,
    pub availability_zone: String,
}

/// Active managed instances per AZ and per lifecycle.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FleetCounts {
    pub per_az: BTreeMap<String, u32>,
    pub on_demand_per_az: BTreeMap<String, u32>,
    pub on_demand: u32,
    pub spot: u32,
}

impl FleetCounts {
    pub fn of(instances: &[Instance]) -> Self {
        let mut counts = FleetCounts::default();
        for i in instances.iter().filter(|i| i.state.is_active()) {
            counts.add(&i.availability_zone, i.lifecycle);
        }
        counts
    }

    pub fn add(&mut self, availability_zone: &str, lifecycle: Lifecycle) {
        *self.per_az.entry(availability_zone.to_string()).or_default() += 1;
        match lifecycle {
            Lifecycle::Spot => self.spot += 1,
            Lifecycle::OnDemand => {
                self.on_demand += 1;
                *self.on_demand_per_az.entry(availability_zone.to_string()).or_default() += 1;
            }
        }
    }

    pub fn total(&self) -> u32 {
        self.on_demand + self.spot
    }
}

/// Subnets best first for an instance of `lifecycle`: fewest instances in their AZ, then, for
/// an On-Demand instance, fewest On-Demand ones, then configured order. The On-Demand tie-break
/// spreads the floor over the AZs: with both floor nodes in one AZ and a Spot node alone in
/// another, the floor holds the first two and the drain's AZ rule the last (docs/drain.md).
pub fn subnets_by_preference<'a>(subnets: &'a [Subnet], counts: &FleetCounts, lifecycle: Lifecycle) -> Vec<&'a Subnet> {
    let count = |map: &BTreeMap<String, u32>, s: &Subnet| map.get(&s.availability_zone).copied().unwrap_or(0);
    let mut ordered: Vec<(usize, &Subnet)> = subnets.iter().enumerate().collect();
    ordered.sort_by_key(|(i, s)| {
        let on_demand = if lifecycle == Lifecycle::OnDemand { count(&counts.on_demand_per_az, s) } else { 0 };
        (count(&counts.per_az, s), on_demand, *i)
    });
    ordered.into_iter().map(|(_, s)| s).collect()
}

/// The lifecycle for the next instance: On-Demand until `min_on_demand` instances exist, then
/// Spot while the Spot share of the instances beyond those is below `spot_share`.
pub fn next_lifecycle(counts: &FleetCounts, min_on_demand: u32, spot_share: f64) -> Lifecycle {
    if counts.total() < min_on_demand || spot_share <= 0.0 {
        return Lifecycle::OnDemand;
    }
    let beyond = counts.total() - min_on_demand;
    let wanted_spot = (spot_share * f64::from(beyond + 1)).round() as u32;
    if counts.spot < wanted_spot {
        Lifecycle::Spot
    } else {
        Lifecycle::OnDemand
    }
}

/// One launch attempt.
#[derive(Debug, Clone, PartialEq)]
pub struct Attempt {
    pub subnet: Subnet,
    pub instance_type: String,
    pub lifecycle: Lifecycle,
}

impl Attempt {
    pub fn offering(&self) -> Offering {
        Offering {
            instance_type: self.instance_type.clone(),
            availability_zone: self.subnet.availability_zone.clone(),
            lifecycle: self.lifecycle,
        }
    }
}

/// Every attempt for one instance, in order. Spot tries each type in each AZ (best AZ first),
/// then falls back to On-Demand the same way; On-Demand tries only On-Demand. Offerings in
/// `avoid` are skipped.
pub fn launch_plan(
    subnets: &[Subnet],
    counts: &FleetCounts,
    instance_types: &[String],
    lifecycle: Lifecycle,
    avoid: &[Offering],
) -> Vec<Attempt> {
    let lifecycles: &[Lifecycle] = match lifecycle {
        Lifecycle::Spot => &[Lifecycle::Spot, Lifecycle::OnDemand],
        Lifecycle::OnDemand => &[Lifecycle::OnDemand],
    };
    let mut plan = Vec::new();
    for lifecycle in lifecycles {
        for subnet in subnets_by_preference(subnets, counts, *lifecycle) {
            for instance_type in instance_types {
                let attempt =
                    Attempt { subnet: subnet.clone(), instance_type: instance_type.clone(), lifecycle: *lifecycle };
                if !avoid.contains(&attempt.offering()) {
                    plan.push(attempt);
                }
            }
        }
    }
    plan
}

/// The node an instance registered as, if any: by provider id (`aws:///<az>/<instance-id>`),
/// by instance id, or by the private DNS name (K3s names EC2 nodes by hostname, short or full).
pub fn node_for_instance<'a>(nodes: &'a [crate::ports::Node], instance: &Instance) -> Option<&'a crate::ports::Node> {
    let dns = instance.private_dns_name.as_deref().unwrap_or("");
    let short = dns.split('.').next().unwrap_or("");
    nodes.iter().find(|n| {
        n.provider_id.as_deref().is_some_and(|p| p.rsplit('/').next() == Some(instance.instance_id.as_str()))
            || n.instance_id.as_deref() == Some(instance.instance_id.as_str())
            || (!dns.is_empty() && (n.name == dns || n.name == short))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subnets() -> Vec<Subnet> {
        ["a", "b", "c"]
            .iter()
            .map(|z| Subnet { subnet_id: format!("subnet-{z}"), availability_zone: format!("us-east-1{z}") })
            .collect()
    }

    #[test]
    fn fewest_first_then_subnet_order() {
        let mut counts = FleetCounts::default();
        counts.add("us-east-1a", Lifecycle::OnDemand);
        counts.add("us-east-1c", Lifecycle::OnDemand);
        let s = subnets();
        let order: Vec<&str> =
            subnets_by_preference(&s, &counts, Lifecycle::Spot).iter().map(|s| s.subnet_id.as_str()).collect();
        assert_eq!(order, vec!["subnet-b", "subnet-a", "subnet-c"]);
        // Two launches in a row go to two different AZs, round-robin by order on ties.
        counts.add("us-east-1b", Lifecycle::OnDemand);
        assert_eq!(subnets_by_preference(&s, &counts, Lifecycle::OnDemand)[0].subnet_id, "subnet-a");
        counts.add("us-east-1a", Lifecycle::OnDemand);
        assert_eq!(subnets_by_preference(&s, &counts, Lifecycle::Spot)[0].subnet_id, "subnet-b");
    }

    #[test]
    fn on_demand_goes_to_the_az_with_the_fewest_on_demand_first() {
        // The tie that put both floor nodes in one AZ: one node each, the On-Demand one in a. A
        // Spot launch takes the subnet order, an On-Demand one the AZ with no On-Demand node.
        let s: Vec<Subnet> = subnets().into_iter().take(2).collect();
        let mut counts = FleetCounts::default();
        counts.add("us-east-1a", Lifecycle::OnDemand);
        counts.add("us-east-1b", Lifecycle::Spot);
        assert_eq!(subnets_by_preference(&s, &counts, Lifecycle::Spot)[0].subnet_id, "subnet-a");
        assert_eq!(subnets_by_preference(&s, &counts, Lifecycle::OnDemand)[0].subnet_id, "subnet-b");
        // The fewest instances still come first: AZ balance is not traded for the floor's spread.
        counts.add("us-east-1b", Lifecycle::Spot);
        assert_eq!(subnets_by_preference(&s, &counts, Lifecycle::OnDemand)[0].subnet_id, "subnet-a");
        counts.add("us-east-1a", Lifecycle::Spot);
        // A Spot launch falling back to On-Demand tries the On-Demand order.
        let plan = launch_plan(&s, &counts, &["t3.small".to_string()], Lifecycle::Spot, &[]);
        let zones: Vec<(&str, Lifecycle)> = plan.iter().map(|a| (a.subnet.subnet_id.as_str(), a.lifecycle)).collect();
        assert_eq!(
            zones,
            vec![
                ("subnet-a", Lifecycle::Spot),
                ("subnet-b", Lifecycle::Spot),
                ("subnet-b", Lifecycle::OnDemand),
                ("subnet-a", Lifecycle::OnDemand)
            ]
        );
    }

    #[test]
    fn first_min_nodes_are_on_demand_then_about_seventy_percent_spot() {
        let mut counts = FleetCounts::default();
        let mut sequence = Vec::new();
        for _ in 0..12 {
            let lifecycle = next_lifecycle(&counts, 2, 0.7);
            sequence.push(lifecycle);
            counts.add("us-east-1a", lifecycle);
        }
        assert_eq!(&sequence[..2], &[Lifecycle::OnDemand, Lifecycle::OnDemand]);
        assert_eq!(sequence[2], Lifecycle::Spot, "the first node beyond the floor is Spot");
        assert_eq!(counts.spot, 7, "7 of the 10 beyond the floor: {sequence:?}");
        assert_eq!(next_lifecycle(&FleetCounts::default(), 0, 0.0), Lifecycle::OnDemand);
    }

    #[test]
    fn plan_falls_back_from_spot_to_on_demand_and_skips_avoided_pools() {
        let counts = FleetCounts::default();
        let types = vec!["t3.small".to_string(), "t3a.small".to_string()];
        let avoid = vec![Offering {
            instance_type: "t3.small".into(),
            availability_zone: "us-east-1a".into(),
            lifecycle: Lifecycle::Spot,
        }];
        let plan = launch_plan(&subnets(), &counts, &types, Lifecycle::Spot, &avoid);
        assert_eq!(plan.len(), 11);
        assert_eq!((plan[0].instance_type.as_str(), plan[0].subnet.subnet_id.as_str()), ("t3a.small", "subnet-a"));
        assert!(plan[..5].iter().all(|a| a.lifecycle == Lifecycle::Spot));
        assert!(plan[5..].iter().all(|a| a.lifecycle == Lifecycle::OnDemand));
        assert_eq!(launch_plan(&subnets(), &counts, &types, Lifecycle::OnDemand, &[]).len(), 6);
    }
}
