use smartscale_core::config::{self, ConfigSource};
use smartscale_core::cost::CostConfig;
use smartscale_core::cost_report::FleetLimits;
use smartscale_core::{Error, Result};

/// What the report needs besides its adapters, validated at cold start.
#[derive(Debug, Clone, PartialEq)]
pub struct CostReportConfig {
    pub cluster_id: String,
    pub cost: CostConfig,
    /// The limits the fleet ran under, for the recommendations.
    pub limits: FleetLimits,
    /// The window, unless the event says otherwise (`REPORT_DAYS`, 7).
    pub days: u32,
}

impl CostReportConfig {
    /// `CLUSTER_ID`, the cost variables ([`CostConfig::from_config`]), `MIN_NODES` (2),
    /// `MAX_NODES` (10) and `SPOT_SHARE` (0.7) as the scale-up worker reads them, and `REPORT_DAYS`.
    pub fn from_config(source: &dyn ConfigSource) -> Result<Self> {
        let cluster_id = config::required(source, "CLUSTER_ID")?;
        let min_nodes: u32 = config::parsed(source, "MIN_NODES")?.unwrap_or(2);
        let max_nodes: u32 = config::parsed(source, "MAX_NODES")?.unwrap_or(10);
        if max_nodes == 0 || max_nodes < min_nodes {
            return Err(Error::config(
                "MAX_NODES",
                format!("must be at least 1 and at least MIN_NODES ({min_nodes}), got {max_nodes}"),
            ));
        }
        let spot_share: f64 = config::parsed(source, "SPOT_SHARE")?.unwrap_or(0.7);
        if !(0.0..=1.0).contains(&spot_share) {
            return Err(Error::config("SPOT_SHARE", format!("must be between 0 and 1, got {spot_share}")));
        }
        let days = config::parsed(source, "REPORT_DAYS")?.unwrap_or(7);
        check_days("REPORT_DAYS", days)?;
        Ok(CostReportConfig {
            cluster_id,
            cost: CostConfig::from_config(source)?,
            limits: FleetLimits { min_nodes, max_nodes, spot_share },
            days,
        })
    }
}

/// The ledger keeps 35 days; a window longer than 31 would read expired buckets.
pub(crate) fn check_days(field: &str, days: u32) -> Result<()> {
    if (1..=31).contains(&days) {
        Ok(())
    } else {
        Err(Error::config(field, format!("must be 1 to 31 days (the ledger keeps 35), got {days}")))
    }
}

#[cfg(test)]
mod tests {
    use smartscale_core::config::MapConfig;

    use super::*;

    #[test]
    fn validates_at_cold_start_naming_the_variable() {
        let base = MapConfig::new().with("CLUSTER_ID", "prod");
        let cfg = CostReportConfig::from_config(&base).unwrap();
        assert_eq!((cfg.days, cfg.limits.min_nodes, cfg.limits.max_nodes), (7, 2, 10));
        assert_eq!(cfg.cost.baseline.nodes, 5);
        for (cfg, var) in [
            (MapConfig::new(), "CLUSTER_ID"),
            (base.clone().with("REPORT_DAYS", "60"), "REPORT_DAYS"),
            (base.clone().with("MAX_NODES", "1"), "MAX_NODES"),
            (base.clone().with("SPOT_SHARE", "2"), "SPOT_SHARE"),
            (base.clone().with("COST_BASELINE_NODES", "0"), "COST_BASELINE_NODES"),
            (base.clone().with("PRICE_TABLE_JSON", "[]"), "PRICE_TABLE_JSON"),
        ] {
            match CostReportConfig::from_config(&cfg) {
                Err(Error::Config { var: got, .. }) => assert_eq!(got, var),
                other => panic!("expected a config error for {var}, got {other:?}"),
            }
        }
    }
}
