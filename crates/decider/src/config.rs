use smartscale_core::config::{self, ConfigSource};
use smartscale_core::{Error, Policy, Result};

/// What the decider needs besides its adapters, validated at cold start.
#[derive(Debug, Clone, PartialEq)]
pub struct DeciderConfig {
    pub cluster_id: String,
    pub policy: Policy,
    /// How long a taken lock lasts if its worker never releases it (the spec's 5 min).
    pub lock_ttl_s: u32,
    /// How old a cached metrics snapshot may be and still be acted on.
    pub snapshot_max_age_s: u32,
    /// The at-max-capacity alert repeats at most this often.
    pub max_capacity_alert_interval_s: u32,
}

impl DeciderConfig {
    pub fn from_config(source: &dyn ConfigSource) -> Result<Self> {
        let cluster_id = config::required(source, "CLUSTER_ID")?;
        let valid_id =
            cluster_id.len() <= 64 && cluster_id.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
        if !valid_id {
            return Err(Error::config("CLUSTER_ID", format!("must be 1–64 of [A-Za-z0-9._-], got {cluster_id:?}")));
        }
        let lock_ttl_s = config::parsed(source, "LOCK_TTL_S")?.unwrap_or(300);
        if !(60..=900).contains(&lock_ttl_s) {
            return Err(Error::config("LOCK_TTL_S", format!("must be between 60 and 900 seconds, got {lock_ttl_s}")));
        }
        let snapshot_max_age_s = config::parsed(source, "METRICS_SNAPSHOT_MAX_AGE_S")?.unwrap_or(300);
        if snapshot_max_age_s > 900 {
            return Err(Error::config(
                "METRICS_SNAPSHOT_MAX_AGE_S",
                format!("must be at most 900 seconds, got {snapshot_max_age_s}"),
            ));
        }
        let max_capacity_alert_interval_s = config::parsed(source, "MAX_CAPACITY_ALERT_INTERVAL_S")?.unwrap_or(1800);
        Ok(DeciderConfig {
            cluster_id,
            policy: Policy::from_config(source)?,
            lock_ttl_s,
            snapshot_max_age_s,
            max_capacity_alert_interval_s,
        })
    }
}

#[cfg(test)]
mod tests {
    use smartscale_core::config::MapConfig;

    use super::*;

    #[test]
    fn validates_at_cold_start_naming_the_variable() {
        let base = MapConfig::new().with("CLUSTER_ID", "prod");
        assert_eq!(DeciderConfig::from_config(&base).unwrap().lock_ttl_s, 300);
        for (cfg, var) in [
            (MapConfig::new(), "CLUSTER_ID"),
            (MapConfig::new().with("CLUSTER_ID", "has spaces"), "CLUSTER_ID"),
            (base.clone().with("LOCK_TTL_S", "5"), "LOCK_TTL_S"),
            (base.clone().with("LOCK_TTL_S", "five"), "LOCK_TTL_S"),
            (base.clone().with("MIN_NODES", "20"), "MIN_NODES"),
        ] {
            match DeciderConfig::from_config(&cfg) {
                Err(Error::Config { var: got, .. }) => assert_eq!(got, var),
                other => panic!("expected a config error for {var}, got {other:?}"),
            }
        }
    }
}
