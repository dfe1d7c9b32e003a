//! `--faults KIND=RATE,...`: what the world breaks, and how often. Every fault goes through the
//! same in-memory fakes production's adapters stand in for, so the handlers see the errors an
//! SDK would give them. Every draw is keyed on the run's seed: a run is reproducible.

use std::fmt;

use smartscale_core::{Error, Result};

/// One kind of fault, with what its RATE means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum FaultKind {
    /// Outages per day; each lasts [`PROMETHEUS_OUTAGE_MINUTES`], every query failing.
    PrometheusOutage,
    /// Probability per launched instance that it runs but never registers a node.
    JoinNeverReady,
    /// NotReady spells per worker node per day; each lasts [`NODE_NOT_READY_MINUTES`].
    NodeNotReady,
    /// Probability per worker invocation that one Kubernetes API call fails (a 503).
    KubeApiError,
    /// Probability per handler invocation that one DynamoDB call is throttled.
    DynamodbThrottle,
    /// Probability per decider run that another owner won the lock's conditional write first.
    LockRace,
    /// Probability per delivered message that SQS delivers it once more (at-least-once).
    SqsRedelivery,
    /// Probability per worker invocation that the Lambda is stopped by its timeout after its
    /// N-th port call (N drawn from 1–8); SQS redelivers the batch after the visibility timeout.
    LambdaTimeout,
    /// Probability per drain-worker invocation that a Spot node it has cordoned gets EC2's
    /// interruption warning.
    SpotDuringDrain,
    /// `--ice-rate`: the chance per hour that one AZ's Spot pool is out of capacity.
    Ice,
    /// `--instance-quota`: active instances beyond which launches fail on the vCPU quota.
    Quota,
    /// Probability per 15 s scrape that Prometheus gets no sample from any target: the rate
    /// window has one scrape fewer and the gauges read the scrape before.
    MissedScrape,
}

pub const PROMETHEUS_OUTAGE_MINUTES: i64 = 15;
pub const NODE_NOT_READY_MINUTES: i64 = 20;

impl FaultKind {
    pub const ALL: [FaultKind; 12] = [
        FaultKind::PrometheusOutage,
        FaultKind::JoinNeverReady,
        FaultKind::NodeNotReady,
        FaultKind::KubeApiError,
        FaultKind::DynamodbThrottle,
        FaultKind::LockRace,
        FaultKind::SqsRedelivery,
        FaultKind::LambdaTimeout,
        FaultKind::SpotDuringDrain,
        FaultKind::Ice,
        FaultKind::Quota,
        FaultKind::MissedScrape,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FaultKind::PrometheusOutage => "prometheus-outage",
            FaultKind::JoinNeverReady => "join-never-ready",
            FaultKind::NodeNotReady => "node-not-ready",
            FaultKind::KubeApiError => "kube-api-error",
            FaultKind::DynamodbThrottle => "dynamodb-throttle",
            FaultKind::LockRace => "lock-race",
            FaultKind::SqsRedelivery => "sqs-redelivery",
            FaultKind::LambdaTimeout => "lambda-timeout",
            FaultKind::SpotDuringDrain => "spot-during-drain",
            FaultKind::Ice => "ice",
            FaultKind::Quota => "quota",
            FaultKind::MissedScrape => "missed-scrape",
        }
    }

    /// The unit of RATE, for errors and docs.
    pub fn rate_unit(self) -> &'static str {
        match self {
            FaultKind::PrometheusOutage => "outages per day, 0-100",
            FaultKind::NodeNotReady => "spells per node-day, 0-100",
            FaultKind::Quota => "a whole number of instances",
            _ => "a probability, 0-1",
        }
    }

    fn max_rate(self) -> f64 {
        match self {
            FaultKind::PrometheusOutage | FaultKind::NodeNotReady => 100.0,
            FaultKind::Quota => 1_000_000.0,
            _ => 1.0,
        }
    }
}

impl fmt::Display for FaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The faults of one run, by kind; a kind not named is not injected.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FaultPlan {
    rates: Vec<(FaultKind, f64)>,
}

impl FaultPlan {
    /// Parses `KIND=RATE,KIND=RATE`. Errors name the kind or the rate.
    pub fn parse(text: &str) -> Result<FaultPlan> {
        let mut plan = FaultPlan::default();
        for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let Some((name, rate)) = item.split_once('=') else {
                return Err(Error::invalid("--faults", format!("{item:?}: expected KIND=RATE")));
            };
            let kind = FaultKind::ALL.into_iter().find(|k| k.as_str() == name.trim()).ok_or_else(|| {
                let names: Vec<&str> = FaultKind::ALL.iter().map(|k| k.as_str()).collect();
                Error::invalid("--faults", format!("unknown fault kind {name:?}; expected one of {}", names.join(", ")))
            })?;
            let value: f64 = rate.trim().parse().map_err(|_| {
                Error::invalid("--faults", format!("{kind}={rate:?}: RATE must be {}", kind.rate_unit()))
            })?;
            let whole = kind != FaultKind::Quota || value.fract() == 0.0;
            if !(value.is_finite() && (0.0..=kind.max_rate()).contains(&value) && whole) {
                return Err(Error::invalid("--faults", format!("{kind}={rate}: RATE must be {}", kind.rate_unit())));
            }
            if plan.rate(kind).is_some() {
                return Err(Error::invalid("--faults", format!("{kind} is given twice")));
            }
            plan.rates.push((kind, value));
        }
        Ok(plan)
    }

    pub fn rate(&self, kind: FaultKind) -> Option<f64> {
        self.rates.iter().find(|(k, _)| *k == kind).map(|(_, r)| *r)
    }

    /// The rate, 0 when the kind is not injected.
    pub fn rate_or_zero(&self, kind: FaultKind) -> f64 {
        self.rate(kind).unwrap_or(0.0)
    }

    pub fn is_empty(&self) -> bool {
        self.rates.is_empty()
    }
}

impl fmt::Display for FaultPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let items: Vec<String> = self.rates.iter().map(|(k, r)| format!("{k}={r}")).collect();
        f.write_str(&items.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_kind() {
        let plan = FaultPlan::parse("prometheus-outage=0.5, kube-api-error=0.02,quota=12").unwrap();
        assert_eq!(plan.rate(FaultKind::PrometheusOutage), Some(0.5));
        assert_eq!(plan.rate(FaultKind::KubeApiError), Some(0.02));
        assert_eq!(plan.rate(FaultKind::Quota), Some(12.0));
        assert_eq!(plan.rate(FaultKind::LockRace), None);
        for kind in FaultKind::ALL {
            assert!(FaultPlan::parse(&format!("{kind}=0")).is_ok(), "{kind}");
        }
    }

    #[test]
    fn errors_name_the_kind_or_the_rate() {
        let e = FaultPlan::parse("prometheus=1").unwrap_err().to_string();
        assert!(e.contains("unknown fault kind \"prometheus\"") && e.contains("prometheus-outage"), "{e}");
        let e = FaultPlan::parse("kube-api-error=2").unwrap_err().to_string();
        assert!(e.contains("kube-api-error=2") && e.contains("probability"), "{e}");
        let e = FaultPlan::parse("lock-race=often").unwrap_err().to_string();
        assert!(e.contains("lock-race") && e.contains("\"often\""), "{e}");
        let e = FaultPlan::parse("quota=2.5").unwrap_err().to_string();
        assert!(e.contains("whole number"), "{e}");
        let e = FaultPlan::parse("ice").unwrap_err().to_string();
        assert!(e.contains("KIND=RATE"), "{e}");
        assert!(FaultPlan::parse("ice=0.1,ice=0.2").unwrap_err().to_string().contains("twice"));
    }
}
