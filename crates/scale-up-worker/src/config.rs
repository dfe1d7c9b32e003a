use smartscale_core::config::{self, ConfigSource};
use smartscale_core::placement::Subnet;
use smartscale_core::pricing::PriceTable;
use smartscale_core::{Error, Result};

#[derive(Debug, Clone, PartialEq)]
pub struct ScaleUpConfig {
    pub cluster_id: String,
    pub subnets: Vec<Subnet>,
    pub instance_types: Vec<String>,
    /// Target Spot share of the instances beyond `min_on_demand`.
    pub spot_share: f64,
    /// The first this many managed instances are always On-Demand (the policy's min_nodes).
    pub min_on_demand: u32,
    pub join_timeout_s: u32,
    pub join_check_delay_s: u32,
    /// No request, however large its count, takes the fleet past this (`MAX_NODES`).
    pub max_nodes: u32,
    /// The runaway guard: at most this many launches in any 10 minutes.
    pub max_launches_per_10m: u32,
    /// Prices the savings ledger's launch records (`PRICE_TABLE_JSON`).
    pub prices: PriceTable,
}

impl ScaleUpConfig {
    /// `CLUSTER_ID`, `SUBNETS` (`subnet-id:az,…`), `INSTANCE_TYPES` (`t3.small,t3a.small`),
    /// `SPOT_SHARE` (0.7), `MIN_NODES` (2), `MAX_NODES` (10), `MAX_LAUNCHES_PER_10M` (`MAX_NODES`),
    /// `JOIN_TIMEOUT_S` (300), `JOIN_CHECK_DELAY_S` (15).
    pub fn from_config(source: &dyn ConfigSource) -> Result<Self> {
        let cluster_id = config::required(source, "CLUSTER_ID")?;
        let subnets = config::required(source, "SUBNETS")?
            .split(',')
            .map(|entry| match entry.trim().split_once(':') {
                Some((id, az)) if id.starts_with("subnet-") && !az.is_empty() => {
                    Ok(Subnet { subnet_id: id.to_string(), availability_zone: az.to_string() })
                }
                _ => Err(Error::config(
                    "SUBNETS",
                    format!("each entry must be subnet-id:availability-zone, got {entry:?}"),
                )),
            })
            .collect::<Result<Vec<_>>>()?;
        let instance_types: Vec<String> = config::optional(source, "INSTANCE_TYPES")
            .unwrap_or_else(|| "t3.small,t3a.small".into())
            .split(',')
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty())
            .collect();
        if instance_types.is_empty() || instance_types.iter().any(|t| !t.contains('.')) {
            return Err(Error::config(
                "INSTANCE_TYPES",
                format!("must be a list of EC2 instance types, got {instance_types:?}"),
            ));
        }
        let spot_share: f64 = config::parsed(source, "SPOT_SHARE")?.unwrap_or(0.7);
        if !(0.0..=1.0).contains(&spot_share) {
            return Err(Error::config("SPOT_SHARE", format!("must be between 0 and 1, got {spot_share}")));
        }
        let min_on_demand = config::parsed(source, "MIN_NODES")?.unwrap_or(2);
        let join_timeout_s = config::parsed(source, "JOIN_TIMEOUT_S")?.unwrap_or(300);
        if !(60..=3600).contains(&join_timeout_s) {
            return Err(Error::config("JOIN_TIMEOUT_S", format!("must be between 60 and 3600, got {join_timeout_s}")));
        }
        let join_check_delay_s = config::parsed(source, "JOIN_CHECK_DELAY_S")?.unwrap_or(15);
        if !(1..=900).contains(&join_check_delay_s) {
            return Err(Error::config(
                "JOIN_CHECK_DELAY_S",
                format!("must be between 1 and 900, got {join_check_delay_s}"),
            ));
        }
        let max_nodes: u32 = config::parsed(source, "MAX_NODES")?.unwrap_or(10);
        if max_nodes == 0 || max_nodes < min_on_demand {
            return Err(Error::config(
                "MAX_NODES",
                format!("must be at least 1 and at least MIN_NODES ({min_on_demand}), got {max_nodes}"),
            ));
        }
        let max_launches_per_10m: u32 = config::parsed(source, "MAX_LAUNCHES_PER_10M")?.unwrap_or(max_nodes);
        if max_launches_per_10m == 0 {
            return Err(Error::config("MAX_LAUNCHES_PER_10M", "must be at least 1, got 0"));
        }
        Ok(ScaleUpConfig {
            max_nodes,
            max_launches_per_10m,
            cluster_id,
            subnets,
            instance_types,
            spot_share,
            min_on_demand,
            join_timeout_s,
            join_check_delay_s,
            prices: PriceTable::from_config(source)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use smartscale_core::config::MapConfig;

    use super::*;

    #[test]
    fn parses_and_names_bad_variables() {
        let base =
            MapConfig::new().with("CLUSTER_ID", "prod").with("SUBNETS", "subnet-a:us-east-1a, subnet-b:us-east-1b");
        let cfg = ScaleUpConfig::from_config(&base).unwrap();
        assert_eq!(cfg.subnets[1].availability_zone, "us-east-1b");
        assert_eq!(cfg.instance_types, vec!["t3.small", "t3a.small"]);
        assert_eq!((cfg.spot_share, cfg.min_on_demand, cfg.join_timeout_s), (0.7, 2, 300));
        for (config, var) in [
            (MapConfig::new().with("CLUSTER_ID", "prod"), "SUBNETS"),
            (base.clone().with("SUBNETS", "us-east-1a"), "SUBNETS"),
            (base.clone().with("SPOT_SHARE", "1.5"), "SPOT_SHARE"),
            (base.clone().with("INSTANCE_TYPES", "small"), "INSTANCE_TYPES"),
            (base.clone().with("JOIN_TIMEOUT_S", "5"), "JOIN_TIMEOUT_S"),
        ] {
            match ScaleUpConfig::from_config(&config) {
                Err(Error::Config { var: got, .. }) => assert_eq!(got, var),
                other => panic!("{var}: {other:?}"),
            }
        }
    }
}
