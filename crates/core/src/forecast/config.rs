//! Predictive scaling's settings, from the same [`ConfigSource`] as the policy, with errors
//! naming the variable.

use serde::{Deserialize, Serialize};

use super::floors::ScheduledFloors;
use crate::config::{self, ConfigSource};
use crate::{Error, Result};

/// Whether the forecast acts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PredictiveMode {
    /// No forecast is computed.
    Off,
    /// The forecast is computed and recorded, and changes no decision.
    ForecastOnly,
    /// The target is max(reactive target, forecast need), clamped to the policy's limits.
    Active,
}

impl PredictiveMode {
    pub fn as_str(self) -> &'static str {
        match self {
            PredictiveMode::Off => "off",
            PredictiveMode::ForecastOnly => "forecast-only",
            PredictiveMode::Active => "active",
        }
    }
}

/// The quantile of the same slot over past cycles that the profile keeps.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Quantile(f64);

impl Quantile {
    pub const P90: Quantile = Quantile(0.9);
    pub const MAX: Quantile = Quantile(1.0);

    pub fn value(self) -> f64 {
        self.0
    }

    /// `p90`, `0.9` or `max`; between 0.5 and 1 (a forecast below the median under-provisions
    /// half of the time, which is what reactive scaling already does).
    pub fn parse(text: &str) -> std::result::Result<Quantile, String> {
        let text = text.trim().to_ascii_lowercase();
        let q = match text.as_str() {
            "max" => 1.0,
            t if t.starts_with('p') => {
                t[1..].parse::<f64>().map_err(|_| format!("{text:?} is not p<percent>, a fraction or max"))? / 100.0
            }
            t => t.parse::<f64>().map_err(|_| format!("{text:?} is not p<percent>, a fraction or max"))?,
        };
        if !(0.5..=1.0).contains(&q) {
            return Err(format!("{text:?} must lie between p50 and max (0.5 to 1)"));
        }
        Ok(Quantile(q))
    }

    /// `p90`, `max`.
    pub fn label(self) -> String {
        if self.0 >= 1.0 {
            "max".to_string()
        } else {
            let pct = self.0 * 100.0;
            if (pct - pct.round()).abs() < 1e-9 {
                format!("p{}", pct.round())
            } else {
                format!("p{pct}")
            }
        }
    }
}

/// Never less than the spec's 10 minutes of pre-scale, unless the user sets a lead time.
pub const MIN_DEFAULT_LEAD_S: u32 = 600;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PredictiveConfig {
    pub mode: PredictiveMode,
    /// `PREDICTIVE_LEAD_TIME` in seconds when set; otherwise see [`PredictiveConfig::lead_s`].
    pub lead_time_s: Option<u32>,
    pub quantile: Quantile,
    /// Added on top of the quantile, in percent of it.
    pub margin_pct: f64,
    /// How many days of history the profile reads.
    pub history_days: u32,
    /// How far past the lead a scale-down looks for the need it must not go below (see
    /// [`super::HOLD_BEYOND_LEAD_S`], the default).
    pub hold_beyond_lead_s: u32,
    /// How much of one node fewer's room the fit check lets the requests fill while an `active`
    /// profile forecasts the fit check's whole lookback ahead (see
    /// [`super::combine::reactive_policy`]); at or below the policy's own, no change.
    pub fit_max_pct: f64,
    pub floors: ScheduledFloors,
}

/// The default of [`PredictiveConfig::fit_max_pct`]: 85 % of the room, against the reactive
/// policy's 80 %.
pub const DEFAULT_FIT_MAX_PCT: f64 = 85.0;

impl Default for PredictiveConfig {
    fn default() -> Self {
        PredictiveConfig {
            mode: PredictiveMode::ForecastOnly,
            lead_time_s: None,
            quantile: Quantile::P90,
            margin_pct: 10.0,
            history_days: 14,
            hold_beyond_lead_s: super::HOLD_BEYOND_LEAD_S,
            fit_max_pct: DEFAULT_FIT_MAX_PCT,
            floors: ScheduledFloors::default(),
        }
    }
}

impl PredictiveConfig {
    pub const MODE: &'static str = "PREDICTIVE_MODE";
    pub const LEAD_TIME: &'static str = "PREDICTIVE_LEAD_TIME";
    pub const QUANTILE: &'static str = "PREDICTIVE_QUANTILE";
    pub const MARGIN_PCT: &'static str = "PREDICTIVE_MARGIN_PCT";
    pub const HISTORY_DAYS: &'static str = "PREDICTIVE_HISTORY_DAYS";
    pub const SCALE_DOWN_HOLD: &'static str = "PREDICTIVE_SCALE_DOWN_HOLD";
    pub const FIT_MAX_PCT: &'static str = "PREDICTIVE_FIT_MAX_REQUESTED_PCT";

    pub fn from_config(source: &dyn ConfigSource) -> Result<PredictiveConfig> {
        let mut c = PredictiveConfig::default();
        if let Some(mode) = config::optional(source, Self::MODE) {
            c.mode = match mode.to_ascii_lowercase().as_str() {
                "off" => PredictiveMode::Off,
                "forecast-only" => PredictiveMode::ForecastOnly,
                "active" => PredictiveMode::Active,
                _ => return Err(Error::config(Self::MODE, format!("{mode:?} is not off, forecast-only or active"))),
            };
        }
        if let Some(lead) = config::parsed::<u32>(source, Self::LEAD_TIME)? {
            if lead > 3600 {
                return Err(Error::config(Self::LEAD_TIME, format!("{lead} s is more than an hour")));
            }
            c.lead_time_s = Some(lead);
        }
        if let Some(q) = config::optional(source, Self::QUANTILE) {
            c.quantile = Quantile::parse(&q).map_err(|m| Error::config(Self::QUANTILE, m))?;
        }
        if let Some(m) = config::parsed::<f64>(source, Self::MARGIN_PCT)? {
            if !(0.0..=100.0).contains(&m) {
                return Err(Error::config(Self::MARGIN_PCT, format!("{m} must lie between 0 and 100")));
            }
            c.margin_pct = m;
        }
        if let Some(days) = config::parsed::<u32>(source, Self::HISTORY_DAYS)? {
            if !(2..=56).contains(&days) {
                return Err(Error::config(Self::HISTORY_DAYS, format!("{days} must lie between 2 and 56")));
            }
            c.history_days = days;
        }
        if let Some(hold) = config::parsed::<u32>(source, Self::SCALE_DOWN_HOLD)? {
            if hold > 3600 {
                return Err(Error::config(Self::SCALE_DOWN_HOLD, format!("{hold} s is more than an hour")));
            }
            c.hold_beyond_lead_s = hold;
        }
        if let Some(pct) = config::parsed::<f64>(source, Self::FIT_MAX_PCT)? {
            if !(50.0..=100.0).contains(&pct) {
                return Err(Error::config(Self::FIT_MAX_PCT, format!("{pct} must lie between 50 and 100")));
            }
            c.fit_max_pct = pct;
        }
        c.floors = ScheduledFloors::from_config(source)?;
        Ok(c)
    }

    /// The lead time: the user's when set, else max(10 min, the p90 of launch → node Ready).
    pub fn lead_s(&self, join_latency_p90_s: Option<f64>) -> u32 {
        match self.lead_time_s {
            Some(lead) => lead,
            None => {
                let p90 = join_latency_p90_s.filter(|v| v.is_finite() && *v > 0.0).map_or(0, |v| v.ceil() as u32);
                p90.clamp(MIN_DEFAULT_LEAD_S, 3600)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::MapConfig;

    fn var_of(err: Error) -> String {
        match err {
            Error::Config { var, .. } => var,
            other => panic!("{other}"),
        }
    }

    #[test]
    fn defaults() {
        let c = PredictiveConfig::from_config(&MapConfig::new()).unwrap();
        assert_eq!(c, PredictiveConfig::default());
        assert_eq!(c.mode, PredictiveMode::ForecastOnly);
        assert_eq!(c.quantile.label(), "p90");
        assert_eq!(c.history_days, 14);
        assert_eq!(c.lead_s(None), 600);
        assert_eq!(c.lead_s(Some(731.2)), 732, "the measured join p90 when above 10 min");
        assert_eq!(c.lead_s(Some(240.0)), 600, "at least 10 min");
    }

    #[test]
    fn reads_every_variable() {
        let cfg = MapConfig::new()
            .with("PREDICTIVE_MODE", "active")
            .with("PREDICTIVE_LEAD_TIME", "300")
            .with("PREDICTIVE_QUANTILE", "max")
            .with("PREDICTIVE_MARGIN_PCT", "0")
            .with("PREDICTIVE_HISTORY_DAYS", "28")
            .with("PREDICTIVE_FIT_MAX_REQUESTED_PCT", "90")
            .with("SCHEDULED_FLOORS", "FRI 19:50-22:00 = 6");
        let c = PredictiveConfig::from_config(&cfg).unwrap();
        assert_eq!(c.mode, PredictiveMode::Active);
        assert_eq!(c.lead_s(Some(900.0)), 300, "the user may set it lower than 10 min");
        assert_eq!(c.quantile, Quantile::MAX);
        assert_eq!(c.margin_pct, 0.0);
        assert_eq!(c.history_days, 28);
        assert_eq!(c.fit_max_pct, 90.0);
        assert_eq!(c.floors.entries().len(), 1);
        assert_eq!(Quantile::parse("0.95").unwrap().label(), "p95");
    }

    #[test]
    fn errors_name_the_variable() {
        let cases = [
            ("PREDICTIVE_MODE", "on"),
            ("PREDICTIVE_LEAD_TIME", "ten"),
            ("PREDICTIVE_LEAD_TIME", "7200"),
            ("PREDICTIVE_QUANTILE", "p30"),
            ("PREDICTIVE_QUANTILE", "most"),
            ("PREDICTIVE_MARGIN_PCT", "-5"),
            ("PREDICTIVE_HISTORY_DAYS", "1"),
            ("PREDICTIVE_SCALE_DOWN_HOLD", "3601"),
            ("PREDICTIVE_FIT_MAX_REQUESTED_PCT", "101"),
            ("PREDICTIVE_FIT_MAX_REQUESTED_PCT", "many"),
            ("SCHEDULED_FLOORS", "FRI 25:00-26:00 = 6"),
            ("SCHEDULED_FLOORS_TZ", "Mars/Olympus"),
        ];
        for (var, value) in cases {
            let err = PredictiveConfig::from_config(&MapConfig::new().with(var, value)).unwrap_err();
            assert_eq!(var_of(err), var, "{var}={value}");
        }
    }
}
