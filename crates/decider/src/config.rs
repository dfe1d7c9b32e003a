use smartscale_core::config::{self, ConfigSource};
use smartscale_core::forecast::PredictiveConfig;
use smartscale_core::{Error, Policy, Result};

/// What the decider needs besides its adapters, validated at cold start.
#[derive(Debug, Clone, PartialEq)]
pub struct DeciderConfig {
    pub cluster_id: String,
    pub policy: Policy,
    /// The price table and the baseline for the fleet's cost metrics (`PRICE_TABLE_JSON`,
    /// `COST_BASELINE_NODES`, `COST_BASELINE_INSTANCE_TYPE`).
    pub cost: smartscale_core::cost::CostConfig,
    /// How long a taken lock lasts if its worker never releases it (the spec's 5 min).
    pub lock_ttl_s: u32,
    /// How old a cached metrics snapshot may be and still be acted on.
    pub snapshot_max_age_s: u32,
    /// The at-max-capacity alert repeats at most this often.
    pub max_capacity_alert_interval_s: u32,
    /// `FAST_PATH_TOPIC_ARN`: the SNS topic Alertmanager's `UnschedulablePods` alert reaches the
    /// decider through. Unset, the fast path is off and SNS events are refused.
    pub fast_path_topic_arn: Option<String>,
    /// Predictive scaling (`PREDICTIVE_*`, `SCHEDULED_FLOORS*`; docs/forecast.md).
    pub predictive: PredictiveConfig,
    /// `PREDICTIVE_REFIT_HOURS` (default 6, 1–24): how often the demand history is read again
    /// and the profile refitted; in between, the model cached in the state item is used.
    pub forecast_refit_s: u32,
    /// `PREDICTIVE_MODEL_MAX_AGE_HOURS` (default 24, refit–168): when a refit fails (history
    /// unavailable), the cached model is still used while younger than this.
    pub forecast_max_age_s: u32,
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
        let fast_path_topic_arn = config::optional(source, "FAST_PATH_TOPIC_ARN");
        if let Some(arn) = &fast_path_topic_arn {
            let parts: Vec<&str> = arn.split(':').collect();
            if parts.len() != 6 || parts[0] != "arn" || parts[2] != "sns" || parts[5].is_empty() {
                return Err(Error::config(
                    "FAST_PATH_TOPIC_ARN",
                    format!("must be an SNS topic ARN (arn:<partition>:sns:<region>:<account>:<name>), got {arn:?}"),
                ));
            }
        }
        let refit_hours: u32 = config::parsed(source, "PREDICTIVE_REFIT_HOURS")?.unwrap_or(6);
        if !(1..=24).contains(&refit_hours) {
            return Err(Error::config("PREDICTIVE_REFIT_HOURS", format!("must be 1–24 hours, got {refit_hours}")));
        }
        let max_age_hours: u32 = config::parsed(source, "PREDICTIVE_MODEL_MAX_AGE_HOURS")?.unwrap_or(24);
        if !(refit_hours..=168).contains(&max_age_hours) {
            return Err(Error::config(
                "PREDICTIVE_MODEL_MAX_AGE_HOURS",
                format!("must be between PREDICTIVE_REFIT_HOURS ({refit_hours}) and 168 hours, got {max_age_hours}"),
            ));
        }
        Ok(DeciderConfig {
            cost: smartscale_core::cost::CostConfig::from_config(source)?,
            predictive: PredictiveConfig::from_config(source)?,
            forecast_refit_s: refit_hours * 3600,
            forecast_max_age_s: max_age_hours * 3600,
            cluster_id,
            policy: Policy::from_config(source)?,
            lock_ttl_s,
            snapshot_max_age_s,
            max_capacity_alert_interval_s,
            fast_path_topic_arn,
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
        assert_eq!(DeciderConfig::from_config(&base).unwrap().fast_path_topic_arn, None, "unset: the fast path is off");
        let on = base.clone().with("FAST_PATH_TOPIC_ARN", "arn:aws:sns:us-east-1:123456789012:fast-path");
        assert!(DeciderConfig::from_config(&on).unwrap().fast_path_topic_arn.is_some());
        for (cfg, var) in [
            (MapConfig::new(), "CLUSTER_ID"),
            (MapConfig::new().with("CLUSTER_ID", "has spaces"), "CLUSTER_ID"),
            (base.clone().with("LOCK_TTL_S", "5"), "LOCK_TTL_S"),
            (base.clone().with("LOCK_TTL_S", "five"), "LOCK_TTL_S"),
            (base.clone().with("MIN_NODES", "20"), "MIN_NODES"),
            (base.clone().with("FAST_PATH_TOPIC_ARN", "fast-path"), "FAST_PATH_TOPIC_ARN"),
            (base.clone().with("PREDICTIVE_REFIT_HOURS", "0"), "PREDICTIVE_REFIT_HOURS"),
            (base.clone().with("PREDICTIVE_MODEL_MAX_AGE_HOURS", "2"), "PREDICTIVE_MODEL_MAX_AGE_HOURS"),
            (base.clone().with("PREDICTIVE_MODE", "sometimes"), "PREDICTIVE_MODE"),
            (base.clone().with("FAST_PATH_TOPIC_ARN", "arn:aws:sqs:us-east-1:123456789012:q"), "FAST_PATH_TOPIC_ARN"),
        ] {
            match DeciderConfig::from_config(&cfg) {
                Err(Error::Config { var: got, .. }) => assert_eq!(got, var),
                other => panic!("expected a config error for {var}, got {other:?}"),
            }
        }
    }
}
