use smartscale_core::config::{self, ConfigSource};
use smartscale_core::drain::{Selection, DEFAULT_UNSET_REQUESTS};
use smartscale_core::ports::Resources;
use smartscale_core::pricing::PriceTable;
use smartscale_core::{Error, Result};

#[derive(Debug, Clone, PartialEq)]
pub struct DrainConfig {
    pub cluster_id: String,
    pub min_nodes: u32,
    /// How long a drain may take unless the request sets its own deadline (the spec's 5 min).
    pub drain_timeout_s: u32,
    pub check_delay_s: u32,
    /// Which removable node goes first (`DRAIN_CANDIDATE`: `safest`, or the spec's `fewest_pods`).
    pub selection: Selection,
    /// What a pod with no requests counts as in the fit check.
    pub unset_requests: Resources,
    /// Prices the savings ledger's termination records (`PRICE_TABLE_JSON`).
    pub prices: PriceTable,
}

impl DrainConfig {
    /// `CLUSTER_ID`, `MIN_NODES` (2), `DRAIN_TIMEOUT_S` (300), `DRAIN_CHECK_DELAY_S` (10),
    /// `DRAIN_CANDIDATE` (`safest`), `DEFAULT_POD_CPU_M` (100) and `DEFAULT_POD_MEMORY_MI` (128).
    pub fn from_config(source: &dyn ConfigSource) -> Result<Self> {
        let cluster_id = config::required(source, "CLUSTER_ID")?;
        let min_nodes = config::parsed(source, "MIN_NODES")?.unwrap_or(2);
        let drain_timeout_s = config::parsed(source, "DRAIN_TIMEOUT_S")?.unwrap_or(300);
        if !(30..=3600).contains(&drain_timeout_s) {
            return Err(Error::config(
                "DRAIN_TIMEOUT_S",
                format!("must be between 30 and 3600, got {drain_timeout_s}"),
            ));
        }
        let check_delay_s = config::parsed(source, "DRAIN_CHECK_DELAY_S")?.unwrap_or(10);
        if !(1..=900).contains(&check_delay_s) {
            return Err(Error::config(
                "DRAIN_CHECK_DELAY_S",
                format!("must be between 1 and 900, got {check_delay_s}"),
            ));
        }
        let selection = config::parsed(source, "DRAIN_CANDIDATE")?.unwrap_or_default();
        let cpu_millis: u64 = config::parsed(source, "DEFAULT_POD_CPU_M")?.unwrap_or(DEFAULT_UNSET_REQUESTS.cpu_millis);
        let memory_mi: u64 =
            config::parsed(source, "DEFAULT_POD_MEMORY_MI")?.unwrap_or(DEFAULT_UNSET_REQUESTS.memory_bytes >> 20);
        if cpu_millis == 0 || cpu_millis > 64_000 {
            return Err(Error::config("DEFAULT_POD_CPU_M", format!("must be between 1 and 64000, got {cpu_millis}")));
        }
        if memory_mi == 0 || memory_mi > 262_144 {
            return Err(Error::config(
                "DEFAULT_POD_MEMORY_MI",
                format!("must be between 1 and 262144, got {memory_mi}"),
            ));
        }
        let unset_requests = Resources { cpu_millis, memory_bytes: memory_mi << 20 };
        let prices = PriceTable::from_config(source)?;
        Ok(DrainConfig { cluster_id, min_nodes, drain_timeout_s, check_delay_s, selection, unset_requests, prices })
    }
}

#[cfg(test)]
mod tests {
    use smartscale_core::config::MapConfig;

    use super::*;

    #[test]
    fn defaults_and_named_errors() {
        let cfg = DrainConfig::from_config(&MapConfig::new().with("CLUSTER_ID", "prod")).unwrap();
        assert_eq!((cfg.min_nodes, cfg.drain_timeout_s, cfg.check_delay_s), (2, 300, 10));
        let err = DrainConfig::from_config(&MapConfig::new().with("CLUSTER_ID", "prod").with("DRAIN_TIMEOUT_S", "5"))
            .unwrap_err();
        assert!(matches!(err, Error::Config { ref var, .. } if var == "DRAIN_TIMEOUT_S"));
    }
}
