//! The scaling policy: every threshold, window, cooldown, limit and step the engine uses.
//!
//! Each field has one environment variable (the spec's names where the spec gives one)
//! and one JSON override name (the field name), both generated from the table below so
//! they can never drift apart.

use serde::{Deserialize, Serialize};

use crate::config::{self, ConfigSource};
use crate::{Error, Result};

macro_rules! policy_fields {
    ($( $(#[doc = $doc:literal])* $field:ident : $ty:ty = $default:expr, env $env:literal; )*) => {
        /// Scaling policy. Build it with [`Policy::default`], [`Policy::from_config`] or
        /// [`Policy::with_overrides`]; the latter two validate.
        #[derive(Debug, Clone, PartialEq, Serialize)]
        pub struct Policy {
            $( $(#[doc = $doc])* pub $field: $ty, )*
        }

        impl Default for Policy {
            fn default() -> Self {
                Policy { $( $field: $default, )* }
            }
        }

        /// Optional per-field overrides, as in the `policy` object of a decision scenario.
        #[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
        #[serde(deny_unknown_fields)]
        pub struct PolicyOverrides {
            $( #[serde(default, skip_serializing_if = "Option::is_none")] pub $field: Option<$ty>, )*
        }

        impl Policy {
            /// `(field, environment variable)` for every policy field.
            pub const ENV_VARS: &'static [(&'static str, &'static str)] = &[ $( (stringify!($field), $env), )* ];

            fn apply_overrides(&mut self, overrides: &PolicyOverrides) {
                $( if let Some(v) = overrides.$field { self.$field = v; } )*
            }

            fn apply_config(&mut self, source: &dyn ConfigSource) -> Result<()> {
                $( if let Some(v) = config::parsed::<$ty>(source, $env)? { self.$field = v; } )*
                Ok(())
            }
        }
    };
}

policy_fields! {
    /// Never fewer nodes than this.
    min_nodes: u32 = 2, env "MIN_NODES";
    /// Never more nodes than this.
    max_nodes: u32 = 10, env "MAX_NODES";
    /// Scale up when CPU busy % stays above this ...
    cpu_scale_up_pct: f64 = 70.0, env "SCALE_UP_THRESHOLD_CPU";
    /// ... for this long.
    cpu_scale_up_window_s: u32 = 180, env "SCALE_UP_CPU_WINDOW";
    /// Scale up when pods stay unschedulable for longer than this. SmartScale's deviation: 30 s
    /// instead of the spec's 180 s, since the signal counts only pods the scheduler could not
    /// place (not ones pulling images), every minute here is a minute of shortfall, and the fast
    /// path's alert (`for: 15s`) reaches the decider 30–45 s after the pods went pending: a
    /// longer window would make that run find the condition not yet sustained.
    pending_pods_window_s: u32 = 30, env "SCALE_UP_PENDING_PODS_WINDOW";
    /// Scale up when the latest memory % is above this.
    mem_scale_up_pct: f64 = 75.0, env "SCALE_UP_THRESHOLD_MEMORY";
    /// Scale up when the latest queue depth is above this.
    queue_scale_up: f64 = 1000.0, env "SCALE_UP_THRESHOLD_QUEUE";
    /// Scale up when the latest p95 latency (seconds) is above this.
    p95_latency_scale_up_s: f64 = 2.0, env "SCALE_UP_THRESHOLD_LATENCY";
    /// Scale up when the error rate % stays above this ...
    error_rate_scale_up_pct: f64 = 5.0, env "SCALE_UP_THRESHOLD_ERROR_RATE";
    /// ... for this long.
    error_rate_window_s: u32 = 120, env "SCALE_UP_ERROR_RATE_WINDOW";
    /// Scale down only when CPU busy % stays below this for `scale_down_window_s`.
    cpu_scale_down_pct: f64 = 30.0, env "SCALE_DOWN_THRESHOLD_CPU";
    /// Scale down only when the latest memory % is below this.
    mem_scale_down_pct: f64 = 50.0, env "SCALE_DOWN_THRESHOLD_MEMORY";
    /// Scale down only when the queue depth stays below this for `scale_down_window_s`.
    queue_scale_down: f64 = 100.0, env "SCALE_DOWN_THRESHOLD_QUEUE";
    /// How long the scale-down conditions must hold.
    scale_down_window_s: u32 = 600, env "SCALE_DOWN_WINDOW";
    /// No scale-up within this many seconds of the last scale-up.
    cooldown_scale_up_s: u32 = 300, env "COOLDOWN_SCALE_UP";
    /// No scale-down within this many seconds of the last scale action of either kind.
    cooldown_scale_down_s: u32 = 600, env "COOLDOWN_SCALE_DOWN";
    /// Nodes added by an ordinary scale-up.
    scale_up_step: u32 = 1, env "SCALE_UP_STEP";
    /// Nodes added by an urgent scale-up (pending pods, or two or more triggers).
    scale_up_step_urgent: u32 = 2, env "SCALE_UP_STEP_URGENT";
    /// SmartScale's deviation: size a pending-pods scale-up by the pending pods' summed requests
    /// against a new node's free room, instead of the spec's fixed +2.
    size_scale_up_by_pending_requests: bool = true, env "SCALE_UP_SIZE_BY_PENDING_REQUESTS";
    /// CPU a new node offers pods after its DaemonSets, millicores (t3.small: 1900 − 100).
    new_node_cpu_millis: u32 = 1800, env "NEW_NODE_CPU_MILLIS";
    /// Memory a new node offers pods after its DaemonSets, MiB (t3.small: 1600 − 128).
    new_node_memory_mib: u32 = 1472, env "NEW_NODE_MEMORY_MIB";
    /// SmartScale's deviation: scale down only when the pods' requests (running and pending) at
    /// their peak over `scale_down_fit_lookback_s` fit on one node fewer, within
    /// `scale_down_fit_max_pct` of the nodes' room.
    scale_down_fit_check: bool = true, env "SCALE_DOWN_FIT_CHECK";
    /// How much of the new nodes' room (CPU and memory) the peak may fill on one node fewer.
    scale_down_fit_max_pct: f64 = 80.0, env "SCALE_DOWN_FIT_MAX_REQUESTED_PCT";
    /// How far back the fit check looks for the peak: a stabilization window, so that a
    /// recurring peak is not scaled away between its occurrences.
    scale_down_fit_lookback_s: u32 = 3600, env "SCALE_DOWN_FIT_LOOKBACK";
    /// SmartScale's deviation: a peak the requests have only come down from holds a node for
    /// `scale_down_fit_descent_lookback_s`, not the whole lookback. The lookback still holds
    /// for a load that rose past the limit within it (a burst that may recur).
    scale_down_fit_descent: bool = true, env "SCALE_DOWN_FIT_DESCENT";
    /// The short window of a descent: how long the requests must have fitted on one node fewer.
    scale_down_fit_descent_lookback_s: u32 = 900, env "SCALE_DOWN_FIT_DESCENT_LOOKBACK";
    /// SmartScale's deviation: consolidate by requests. When the spec's utilization rule does not
    /// hold (CPU between its thresholds), still remove a node whose pods fit on the others: the
    /// fit check passes, no pods are pending, and CPU (sustained over `scale_down_window_s`) and
    /// memory, projected onto one node fewer, stay `consolidation_headroom_pct` points below
    /// their scale-up thresholds, so the removal cannot trigger the next scale-up.
    consolidate_by_requests: bool = true, env "SCALE_DOWN_CONSOLIDATE_BY_REQUESTS";
    /// Percentage points the projected utilization must stay below the scale-up thresholds.
    consolidation_headroom_pct: f64 = 10.0, env "SCALE_DOWN_CONSOLIDATION_HEADROOM";
    /// Expected spacing of metric samples; the tolerance when judging window coverage.
    sample_interval_s: u32 = 30, env "METRICS_STEP";
}

/// Nodes removed by one scale-down. The spec fixes this at one: removing nodes is the risky
/// direction, so it is not configurable.
pub const SCALE_DOWN_STEP: u32 = 1;

const MAX_WINDOW_S: u32 = 86_400;

impl Policy {
    /// The furthest back any rule looks: the engine needs no older sample.
    pub fn longest_lookback_s(&self) -> u32 {
        [
            self.cpu_scale_up_window_s,
            self.pending_pods_window_s,
            self.error_rate_window_s,
            self.scale_down_window_s,
            self.scale_down_fit_lookback_s,
            self.descent_span_s(),
        ]
        .into_iter()
        .max()
        .unwrap_or(0)
    }

    /// How far back the descent rule looks for a rise past the fit limit: the fit check's
    /// lookback plus the short window (so that a burst recurring once per lookback is always
    /// seen rising, whatever the phase); 0 when the rule is off.
    pub fn descent_span_s(&self) -> u32 {
        if self.scale_down_fit_check_may_run() && self.scale_down_fit_descent {
            self.scale_down_fit_lookback_s.saturating_add(self.scale_down_fit_descent_lookback_s)
        } else {
            0
        }
    }

    /// The fit check runs when it is on or when consolidation (which always uses it) is.
    fn scale_down_fit_check_may_run(&self) -> bool {
        self.scale_down_fit_check || self.consolidate_by_requests
    }

    /// Defaults overridden by the configuration source, validated. Errors name the variable.
    pub fn from_config(source: &dyn ConfigSource) -> Result<Policy> {
        let mut policy = Policy::default();
        policy.apply_config(source)?;
        policy.validate().map_err(|v| Error::config(env_var(v.field), v.message))?;
        Ok(policy)
    }

    /// Defaults (or `self`) overridden field by field, validated. Errors name `policy.<field>`.
    pub fn with_overrides(&self, overrides: &PolicyOverrides) -> Result<Policy> {
        let mut policy = self.clone();
        policy.apply_overrides(overrides);
        policy.validate().map_err(|v| Error::invalid(format!("policy.{}", v.field), v.message))?;
        Ok(policy)
    }

    /// Checks ranges and relations between fields.
    pub fn validate(&self) -> std::result::Result<(), Violation> {
        let fail = |field: &'static str, message: String| Err(Violation { field, message });
        if self.max_nodes == 0 || self.max_nodes > 1000 {
            return fail("max_nodes", format!("must be between 1 and 1000, got {}", self.max_nodes));
        }
        if self.min_nodes > self.max_nodes {
            return fail(
                "min_nodes",
                format!("min_nodes ({}) is greater than max_nodes ({})", self.min_nodes, self.max_nodes),
            );
        }
        for (field, value) in [
            ("cpu_scale_up_pct", self.cpu_scale_up_pct),
            ("cpu_scale_down_pct", self.cpu_scale_down_pct),
            ("mem_scale_up_pct", self.mem_scale_up_pct),
            ("mem_scale_down_pct", self.mem_scale_down_pct),
            ("error_rate_scale_up_pct", self.error_rate_scale_up_pct),
            ("scale_down_fit_max_pct", self.scale_down_fit_max_pct),
            ("consolidation_headroom_pct", self.consolidation_headroom_pct),
        ] {
            if !(value.is_finite() && (0.0..=100.0).contains(&value)) {
                return fail(field, format!("must be a percentage between 0 and 100, got {value}"));
            }
        }
        for (field, value) in [
            ("queue_scale_up", self.queue_scale_up),
            ("queue_scale_down", self.queue_scale_down),
            ("p95_latency_scale_up_s", self.p95_latency_scale_up_s),
        ] {
            if !(value.is_finite() && value >= 0.0) {
                return fail(field, format!("must be a non-negative number, got {value}"));
            }
        }
        for (down_field, down, up_field, up) in [
            ("cpu_scale_down_pct", self.cpu_scale_down_pct, "cpu_scale_up_pct", self.cpu_scale_up_pct),
            ("mem_scale_down_pct", self.mem_scale_down_pct, "mem_scale_up_pct", self.mem_scale_up_pct),
            ("queue_scale_down", self.queue_scale_down, "queue_scale_up", self.queue_scale_up),
        ] {
            if down >= up {
                return fail(
                    down_field,
                    format!("scale-down threshold {down} must be below the scale-up threshold {up_field} ({up})"),
                );
            }
        }
        for (field, value) in [
            ("cpu_scale_up_window_s", self.cpu_scale_up_window_s),
            ("pending_pods_window_s", self.pending_pods_window_s),
            ("error_rate_window_s", self.error_rate_window_s),
            ("scale_down_window_s", self.scale_down_window_s),
            ("sample_interval_s", self.sample_interval_s),
            ("scale_down_fit_lookback_s", self.scale_down_fit_lookback_s),
            ("scale_down_fit_descent_lookback_s", self.scale_down_fit_descent_lookback_s),
        ] {
            if value == 0 || value > MAX_WINDOW_S {
                return fail(field, format!("must be between 1 and {MAX_WINDOW_S} seconds, got {value}"));
            }
        }
        for (field, value) in
            [("cooldown_scale_up_s", self.cooldown_scale_up_s), ("cooldown_scale_down_s", self.cooldown_scale_down_s)]
        {
            if value > MAX_WINDOW_S {
                return fail(field, format!("must be at most {MAX_WINDOW_S} seconds, got {value}"));
            }
        }
        let shortest_window = self
            .cpu_scale_up_window_s
            .min(self.pending_pods_window_s)
            .min(self.error_rate_window_s)
            .min(self.scale_down_window_s);
        if self.sample_interval_s > shortest_window {
            return fail(
                "sample_interval_s",
                format!("{} s is longer than the shortest window ({shortest_window} s)", self.sample_interval_s),
            );
        }
        if self.scale_down_fit_descent_lookback_s > self.scale_down_fit_lookback_s {
            return fail(
                "scale_down_fit_descent_lookback_s",
                format!(
                    "{} s is longer than scale_down_fit_lookback_s ({} s): a descent's window must be the shorter",
                    self.scale_down_fit_descent_lookback_s, self.scale_down_fit_lookback_s
                ),
            );
        }
        if self.scale_up_step == 0 || self.scale_up_step > self.scale_up_step_urgent {
            return fail(
                "scale_up_step",
                format!(
                    "must be at least 1 and at most scale_up_step_urgent ({}), got {}",
                    self.scale_up_step_urgent, self.scale_up_step
                ),
            );
        }
        if self.new_node_cpu_millis == 0 || self.new_node_memory_mib == 0 {
            let field = if self.new_node_cpu_millis == 0 { "new_node_cpu_millis" } else { "new_node_memory_mib" };
            return fail(field, "must be above 0".into());
        }
        if self.scale_up_step_urgent > 10 {
            return fail("scale_up_step_urgent", format!("must be at most 10, got {}", self.scale_up_step_urgent));
        }
        Ok(())
    }

    /// The longest look-back any rule needs, plus one sample interval: how much history to fetch.
    pub fn lookback_s(&self) -> u32 {
        self.cpu_scale_up_window_s
            .max(self.pending_pods_window_s)
            .max(self.error_rate_window_s)
            .max(self.scale_down_window_s)
            .max(if self.scale_down_fit_check_may_run() { self.scale_down_fit_lookback_s } else { 0 })
            .max(self.descent_span_s())
            + self.sample_interval_s
    }
}

/// A policy field that failed validation.
#[derive(Debug, Clone, PartialEq)]
pub struct Violation {
    pub field: &'static str,
    pub message: String,
}

fn env_var(field: &str) -> &'static str {
    Policy::ENV_VARS.iter().find(|(f, _)| *f == field).map(|(_, env)| *env).unwrap_or("policy")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::MapConfig;

    #[test]
    fn defaults_are_the_spec() {
        let p = Policy::default();
        assert_eq!((p.min_nodes, p.max_nodes), (2, 10));
        assert_eq!((p.cpu_scale_up_pct, p.cpu_scale_down_pct), (70.0, 30.0));
        assert_eq!((p.mem_scale_up_pct, p.mem_scale_down_pct), (75.0, 50.0));
        assert_eq!((p.queue_scale_up, p.queue_scale_down), (1000.0, 100.0));
        assert_eq!((p.cooldown_scale_up_s, p.cooldown_scale_down_s), (300, 600));
        assert_eq!((p.scale_up_step, p.scale_up_step_urgent), (1, 2));
        assert_eq!(p.validate(), Ok(()));
    }

    #[test]
    fn env_overrides_apply() {
        let cfg = MapConfig::new().with("MIN_NODES", "3").with("MAX_NODES", "20").with("COOLDOWN_SCALE_UP", "120");
        let p = Policy::from_config(&cfg).unwrap();
        assert_eq!((p.min_nodes, p.max_nodes, p.cooldown_scale_up_s), (3, 20, 120));
    }

    #[test]
    fn contradictions_name_the_variable() {
        let cases = [
            (MapConfig::new().with("MIN_NODES", "12"), "MIN_NODES"),
            (MapConfig::new().with("MAX_NODES", "0"), "MAX_NODES"),
            (MapConfig::new().with("SCALE_DOWN_THRESHOLD_CPU", "70"), "SCALE_DOWN_THRESHOLD_CPU"),
            (MapConfig::new().with("SCALE_UP_THRESHOLD_CPU", "25"), "SCALE_DOWN_THRESHOLD_CPU"),
            (MapConfig::new().with("SCALE_UP_THRESHOLD_CPU", "170"), "SCALE_UP_THRESHOLD_CPU"),
            (MapConfig::new().with("SCALE_DOWN_THRESHOLD_MEMORY", "80"), "SCALE_DOWN_THRESHOLD_MEMORY"),
            (MapConfig::new().with("SCALE_DOWN_THRESHOLD_QUEUE", "5000"), "SCALE_DOWN_THRESHOLD_QUEUE"),
            (MapConfig::new().with("COOLDOWN_SCALE_UP", "-5"), "COOLDOWN_SCALE_UP"),
            (MapConfig::new().with("COOLDOWN_SCALE_DOWN", "999999"), "COOLDOWN_SCALE_DOWN"),
            (MapConfig::new().with("SCALE_UP_STEP", "3"), "SCALE_UP_STEP"),
            (MapConfig::new().with("METRICS_STEP", "900"), "METRICS_STEP"),
            (MapConfig::new().with("SCALE_UP_THRESHOLD_CPU", "NaN"), "SCALE_UP_THRESHOLD_CPU"),
            (MapConfig::new().with("SCALE_DOWN_FIT_DESCENT_LOOKBACK", "7200"), "SCALE_DOWN_FIT_DESCENT_LOOKBACK"),
            (MapConfig::new().with("SCALE_DOWN_FIT_DESCENT_LOOKBACK", "0"), "SCALE_DOWN_FIT_DESCENT_LOOKBACK"),
        ];
        for (cfg, var) in cases {
            match Policy::from_config(&cfg) {
                Err(Error::Config { var: got, message }) => assert_eq!(got, var, "{message}"),
                other => panic!("expected a config error naming {var}, got {other:?}"),
            }
        }
    }

    #[test]
    fn overrides_name_the_json_field() {
        let overrides = PolicyOverrides { min_nodes: Some(11), ..Default::default() };
        let err = Policy::default().with_overrides(&overrides).unwrap_err();
        assert!(matches!(err, Error::Invalid { ref field, .. } if field == "policy.min_nodes"), "{err}");
    }

    #[test]
    fn lookback_covers_the_longest_window() {
        assert_eq!(Policy::default().lookback_s(), 4530, "the fit check's hour and the descent's 15 minutes");
        let no_descent = Policy { scale_down_fit_descent: false, ..Policy::default() };
        assert_eq!(no_descent.lookback_s(), 3630, "the fit check's hour");
        let spec = Policy { scale_down_fit_check: false, consolidate_by_requests: false, ..Policy::default() };
        assert_eq!(spec.lookback_s(), 630);
    }
}
