//! On-Demand prices (us-east-1, Linux, per hour) for the instance types SmartScale launches,
//! and the Spot discount the estimates assume. Estimates only: Spot prices move.

use crate::ports::Lifecycle;

/// Assumed Spot discount from On-Demand, 0–1 (the simulator's default too).
pub const DEFAULT_SPOT_DISCOUNT: f64 = 0.65;

const ON_DEMAND_PER_HOUR: &[(&str, f64)] = &[
    ("t3.small", 0.0208),
    ("t3a.small", 0.0188),
    ("t3.medium", 0.0416),
    ("t3a.medium", 0.0376),
    ("t3.large", 0.0832),
    ("t3a.large", 0.0752),
];

/// The On-Demand hourly price of `instance_type`, if known.
pub fn on_demand_per_hour(instance_type: &str) -> Option<f64> {
    ON_DEMAND_PER_HOUR.iter().find(|(t, _)| *t == instance_type).map(|(_, p)| *p)
}

/// The hourly price for an instance of this type and lifecycle, if the type is known.
pub fn per_hour(instance_type: &str, lifecycle: Lifecycle, spot_discount: f64) -> Option<f64> {
    let on_demand = on_demand_per_hour(instance_type)?;
    Some(match lifecycle {
        Lifecycle::OnDemand => on_demand,
        Lifecycle::Spot => on_demand * (1.0 - spot_discount),
    })
}

/// USD per day for a node of this type and lifecycle.
pub fn per_day(instance_type: &str, lifecycle: Lifecycle) -> Option<f64> {
    per_hour(instance_type, lifecycle, DEFAULT_SPOT_DISCOUNT).map(|p| p * 24.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices() {
        assert_eq!(on_demand_per_hour("t3.small"), Some(0.0208));
        assert!((per_day("t3.small", Lifecycle::OnDemand).unwrap() - 0.4992).abs() < 1e-9);
        assert!((per_day("t3.small", Lifecycle::Spot).unwrap() - 0.17472).abs() < 1e-9);
        assert_eq!(per_day("x1e.32xlarge", Lifecycle::Spot), None);
    }
}
