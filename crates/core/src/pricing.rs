//! Hourly prices of the instance types SmartScale launches: a per-region table, configurable.
//!
//! The built-in table is AWS's published Linux On-Demand price list for us-east-1 (the list
//! prices of these types have not changed since they launched; [`DEFAULT_AS_OF`] says when the
//! table was last checked). Spot is estimated as a discount from On-Demand unless the table
//! gives a Spot price for the type: Spot prices move, so every figure made from them is an
//! estimate, and the table says its region and date wherever it is reported.
//!
//! `PRICE_TABLE_JSON` replaces the table as a whole (a table is for one region; merging it with
//! us-east-1's defaults would mix regions):
//! `{"region": "eu-west-1", "as_of": "2026-11-01", "spot_discount": 0.65,
//!   "on_demand": {"t3.small": 0.0228}, "spot": {"t3.small": 0.0071}}` (`spot` is optional).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::config::{self, ConfigSource};
use crate::ports::Lifecycle;
use crate::{Error, Result};

/// Assumed Spot discount from On-Demand, 0–1 (the simulator's default too).
pub const DEFAULT_SPOT_DISCOUNT: f64 = 0.65;
pub const DEFAULT_REGION: &str = "us-east-1";
/// When the built-in prices were last checked against AWS's price list.
pub const DEFAULT_AS_OF: &str = "2026-11-01";
/// The configuration variable holding a replacement table as JSON.
pub const PRICE_TABLE_VAR: &str = "PRICE_TABLE_JSON";

const ON_DEMAND_PER_HOUR: &[(&str, f64)] = &[
    ("t3.small", 0.0208),
    ("t3a.small", 0.0188),
    ("t3.medium", 0.0416),
    ("t3a.medium", 0.0376),
    ("t3.large", 0.0832),
    ("t3a.large", 0.0752),
];

/// Prices per hour (USD) for one region.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriceTable {
    pub region: String,
    /// When the prices were taken (a date, as the table's author wrote it).
    pub as_of: String,
    /// Spot's assumed discount from On-Demand, for types without a Spot price.
    #[serde(default = "default_discount")]
    pub spot_discount: f64,
    pub on_demand: BTreeMap<String, f64>,
    /// Observed Spot prices, where known; they win over the discount.
    #[serde(default)]
    pub spot: BTreeMap<String, f64>,
}

fn default_discount() -> f64 {
    DEFAULT_SPOT_DISCOUNT
}

impl Default for PriceTable {
    fn default() -> Self {
        PriceTable {
            region: DEFAULT_REGION.into(),
            as_of: DEFAULT_AS_OF.into(),
            spot_discount: DEFAULT_SPOT_DISCOUNT,
            on_demand: ON_DEMAND_PER_HOUR.iter().map(|(t, p)| (t.to_string(), *p)).collect(),
            spot: BTreeMap::new(),
        }
    }
}

impl PriceTable {
    /// The table from `PRICE_TABLE_JSON`, or the built-in one when it is unset. A table that
    /// does not parse or holds an impossible price is an error naming the variable and field.
    pub fn from_config(source: &dyn ConfigSource) -> Result<Self> {
        match config::optional(source, PRICE_TABLE_VAR) {
            None => Ok(PriceTable::default()),
            Some(json) => PriceTable::from_json(&json).map_err(|e| Error::config(PRICE_TABLE_VAR, e)),
        }
    }

    /// Parses and validates a table; the error says which field is wrong.
    pub fn from_json(json: &str) -> std::result::Result<Self, String> {
        let de = &mut serde_json::Deserializer::from_str(json);
        let table: PriceTable =
            serde_path_to_error::deserialize(de).map_err(|e| format!("at `{}`: {}", e.path(), e.inner()))?;
        table.validate()?;
        Ok(table)
    }

    fn validate(&self) -> std::result::Result<(), String> {
        if self.region.trim().is_empty() {
            return Err("`region` is empty: say which region the prices are for".into());
        }
        if self.as_of.trim().is_empty() {
            return Err("`as_of` is empty: say when the prices were taken".into());
        }
        if !(0.0..1.0).contains(&self.spot_discount) {
            return Err(format!("`spot_discount` must be in [0, 1), got {}", self.spot_discount));
        }
        if self.on_demand.is_empty() {
            return Err("`on_demand` lists no instance type".into());
        }
        for (section, prices) in [("on_demand", &self.on_demand), ("spot", &self.spot)] {
            for (instance_type, price) in prices {
                if !instance_type.contains('.') {
                    return Err(format!("`{section}.{instance_type}` is not an EC2 instance type"));
                }
                if !(price.is_finite() && *price > 0.0) {
                    return Err(format!("`{section}.{instance_type}` must be a positive USD/hour price, got {price}"));
                }
            }
        }
        if let Some(t) = self.spot.keys().find(|t| !self.on_demand.contains_key(*t)) {
            return Err(format!("`spot.{t}` has no On-Demand price in `on_demand`"));
        }
        Ok(())
    }

    /// The On-Demand hourly price of `instance_type`, if the table knows it.
    pub fn on_demand_per_hour(&self, instance_type: &str) -> Option<f64> {
        self.on_demand.get(instance_type).copied()
    }

    /// The hourly price of an instance of this type and lifecycle, if the table knows the type.
    pub fn per_hour(&self, instance_type: &str, lifecycle: Lifecycle) -> Option<f64> {
        let on_demand = self.on_demand_per_hour(instance_type)?;
        Some(match lifecycle {
            Lifecycle::OnDemand => on_demand,
            Lifecycle::Spot => self.spot.get(instance_type).copied().unwrap_or(on_demand * (1.0 - self.spot_discount)),
        })
    }

    /// "us-east-1, prices as of 2026-11-01": what every report says about its figures.
    pub fn describe(&self) -> String {
        format!("{}, prices as of {}", self.region, self.as_of)
    }
}

/// The On-Demand hourly price of `instance_type` in the built-in table, if known.
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
    use crate::config::MapConfig;

    #[test]
    fn prices() {
        assert_eq!(on_demand_per_hour("t3.small"), Some(0.0208));
        assert!((per_day("t3.small", Lifecycle::OnDemand).unwrap() - 0.4992).abs() < 1e-9);
        assert!((per_day("t3.small", Lifecycle::Spot).unwrap() - 0.17472).abs() < 1e-9);
        assert_eq!(per_day("x1e.32xlarge", Lifecycle::Spot), None);
    }

    #[test]
    fn the_default_table_prices_as_the_functions_do() {
        let table = PriceTable::from_config(&MapConfig::new()).unwrap();
        assert_eq!(table.describe(), "us-east-1, prices as of 2026-11-01");
        for (t, _) in ON_DEMAND_PER_HOUR {
            for lifecycle in [Lifecycle::OnDemand, Lifecycle::Spot] {
                assert_eq!(table.per_hour(t, lifecycle), per_hour(t, lifecycle, DEFAULT_SPOT_DISCOUNT), "{t}");
            }
        }
        assert_eq!(table.per_hour("m5.large", Lifecycle::OnDemand), None);
    }

    #[test]
    fn an_override_replaces_the_table_and_spot_prices_win_over_the_discount() {
        let json = r#"{"region": "eu-west-1", "as_of": "2026-10-01", "spot_discount": 0.5,
            "on_demand": {"t3.small": 0.0228, "m5.large": 0.107}, "spot": {"m5.large": 0.04}}"#;
        let table = PriceTable::from_config(&MapConfig::new().with(PRICE_TABLE_VAR, json)).unwrap();
        assert_eq!(table.per_hour("t3.small", Lifecycle::OnDemand), Some(0.0228));
        assert_eq!(table.per_hour("t3.small", Lifecycle::Spot), Some(0.0114));
        assert_eq!(table.per_hour("m5.large", Lifecycle::Spot), Some(0.04));
        assert_eq!(table.per_hour("t3a.small", Lifecycle::OnDemand), None, "not merged with us-east-1");
        assert_eq!(table.describe(), "eu-west-1, prices as of 2026-10-01");
    }

    #[test]
    fn a_bad_override_names_the_variable_and_the_field() {
        for (json, field) in [
            ("not json", "at `.`"),
            (r#"{"region": "x", "as_of": "d", "on_demand": {"t3.small": -1}}"#, "on_demand.t3.small"),
            (r#"{"region": "x", "as_of": "d", "on_demand": {"t3.small": "cheap"}}"#, "on_demand.t3.small"),
            (r#"{"region": "x", "as_of": "", "on_demand": {"t3.small": 0.1}}"#, "as_of"),
            (r#"{"region": "x", "as_of": "d", "on_demand": {}}"#, "on_demand"),
            (r#"{"region": "x", "as_of": "d", "on_demand": {"t3.small": 0.1}, "spot_discount": 1.5}"#, "spot_discount"),
            (
                r#"{"region": "x", "as_of": "d", "on_demand": {"t3.small": 0.1}, "spot": {"m5.large": 0.1}}"#,
                "spot.m5.large",
            ),
            (r#"{"region": "x", "as_of": "d", "on_demand": {"t3.small": 0.1}, "currency": "EUR"}"#, "currency"),
        ] {
            let err = PriceTable::from_config(&MapConfig::new().with(PRICE_TABLE_VAR, json)).unwrap_err();
            match &err {
                Error::Config { var, message } => {
                    assert_eq!(var, PRICE_TABLE_VAR);
                    assert!(message.contains(field), "{json}: {message}");
                }
                other => panic!("{json}: expected a config error, got {other:?}"),
            }
        }
    }
}
