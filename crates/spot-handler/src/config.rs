use smartscale_core::config::{self, ConfigSource};
use smartscale_core::pricing::PriceTable;
use smartscale_core::{Error, Result};

/// What a rebalance recommendation does. The default is to cordon: see docs/spot.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RebalanceAction {
    Ignore,
    Cordon,
    Drain,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SpotConfig {
    pub cluster_id: String,
    pub rebalance_action: RebalanceAction,
    /// How long an interrupted node's drain may take (inside the 2-minute warning).
    pub drain_deadline_s: u32,
    /// How long an interrupted (type, AZ) pool is avoided.
    pub unavailable_offering_ttl_s: u32,
    /// How long a handled event id is remembered.
    pub event_ttl_s: u32,
    /// Prices for the savings ledger's record of an interruption (`PRICE_TABLE_JSON`).
    pub prices: PriceTable,
}

impl SpotConfig {
    /// `CLUSTER_ID`, `REBALANCE_ACTION` (`ignore`|`cordon`|`drain`, default `cordon`),
    /// `SPOT_DRAIN_DEADLINE_S` (90), `UNAVAILABLE_OFFERING_TTL_S` (1800), `EVENT_TTL_S` (86400).
    pub fn from_config(source: &dyn ConfigSource) -> Result<Self> {
        let rebalance_action = match config::optional(source, "REBALANCE_ACTION").as_deref() {
            None | Some("cordon") => RebalanceAction::Cordon,
            Some("ignore") => RebalanceAction::Ignore,
            Some("drain") => RebalanceAction::Drain,
            Some(other) => {
                return Err(Error::config(
                    "REBALANCE_ACTION",
                    format!("must be ignore, cordon or drain, got {other:?}"),
                ))
            }
        };
        let drain_deadline_s = config::parsed(source, "SPOT_DRAIN_DEADLINE_S")?.unwrap_or(90);
        if !(10..=110).contains(&drain_deadline_s) {
            return Err(Error::config(
                "SPOT_DRAIN_DEADLINE_S",
                format!("must fit the 2-minute warning (10–110 s), got {drain_deadline_s}"),
            ));
        }
        Ok(SpotConfig {
            cluster_id: config::required(source, "CLUSTER_ID")?,
            rebalance_action,
            drain_deadline_s,
            unavailable_offering_ttl_s: config::parsed(source, "UNAVAILABLE_OFFERING_TTL_S")?.unwrap_or(1800),
            event_ttl_s: config::parsed(source, "EVENT_TTL_S")?.unwrap_or(86_400),
            prices: PriceTable::from_config(source)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use smartscale_core::config::MapConfig;

    use super::*;

    #[test]
    fn defaults_and_named_errors() {
        let base = MapConfig::new().with("CLUSTER_ID", "prod");
        let cfg = SpotConfig::from_config(&base).unwrap();
        assert_eq!(
            (cfg.rebalance_action, cfg.drain_deadline_s, cfg.unavailable_offering_ttl_s),
            (RebalanceAction::Cordon, 90, 1800)
        );
        for (config, var) in [
            (base.clone().with("REBALANCE_ACTION", "panic"), "REBALANCE_ACTION"),
            (base.clone().with("SPOT_DRAIN_DEADLINE_S", "300"), "SPOT_DRAIN_DEADLINE_S"),
            (MapConfig::new(), "CLUSTER_ID"),
        ] {
            match SpotConfig::from_config(&config) {
                Err(Error::Config { var: got, .. }) => assert_eq!(got, var),
                other => panic!("{var}: {other:?}"),
            }
        }
    }
}
