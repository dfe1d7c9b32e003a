//! The fast path as the cluster runs it: Prometheus' `UnschedulablePods` rule over the scraped
//! unschedulable pods (`for: 15s`), Alertmanager's route (`group_wait` 10 s, `repeat_interval`
//! 5 min), and SNS invoking the decider at once. The values are those of
//! k8s/infrastructure/monitoring/{prometheus/rules/fast-path.yml,alertmanager/alertmanager.yml}.

use chrono::{DateTime, Duration, Utc};

/// The rule's `for`.
const RULE_FOR_S: i64 = 15;
/// Alertmanager's wait before a new group's first notification.
const GROUP_WAIT_S: i64 = 10;
/// Alertmanager's resend while the same alert keeps firing.
const REPEAT_INTERVAL_S: i64 = 300;
/// The topic the simulated decider is configured with (`FAST_PATH_TOPIC_ARN`).
pub const TOPIC_ARN: &str = "arn:aws:sns:us-east-1:123456789012:sim-fast-path";

/// The alert's life: pending from the first scrape that shows unschedulable pods, firing after
/// `for`, notified after the group wait and again every repeat interval.
#[derive(Debug, Default)]
pub struct AlertRoute {
    pending_since: Option<DateTime<Utc>>,
    next_notification: Option<DateTime<Utc>>,
}

impl AlertRoute {
    /// Feeds the rule what the scrapes show at `now` (`None`: no data, so the expression has no
    /// result and the alert ends). Returns the alert's start when Alertmanager sends a firing
    /// notification at or before `now`.
    pub fn observe(&mut self, now: DateTime<Utc>, unschedulable: Option<u32>) -> Option<DateTime<Utc>> {
        if unschedulable.unwrap_or(0) == 0 {
            // Resolved: Alertmanager's resolved notification makes the decider do nothing.
            *self = AlertRoute::default();
            return None;
        }
        let since = *self.pending_since.get_or_insert(now);
        let due = *self.next_notification.get_or_insert(since + Duration::seconds(RULE_FOR_S + GROUP_WAIT_S));
        if now < due {
            return None;
        }
        self.next_notification = Some(due + Duration::seconds(REPEAT_INTERVAL_S));
        Some(since + Duration::seconds(RULE_FOR_S))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + s, 0).unwrap()
    }

    #[test]
    fn the_first_notification_follows_for_and_group_wait_then_repeats_every_five_minutes() {
        let mut route = AlertRoute::default();
        let sent: Vec<i64> = (0..=50).map(|i| i * 15).filter(|s| route.observe(at(*s), Some(3)).is_some()).collect();
        // Pending at 0 s; firing at 15 s; notified after the 10 s group wait: the 30 s step.
        assert_eq!(sent, vec![30, 330, 630]);
    }

    #[test]
    fn no_data_or_no_pending_pods_resolves_the_alert() {
        let mut route = AlertRoute::default();
        assert_eq!(route.observe(at(0), Some(1)), None);
        assert_eq!(route.observe(at(15), None), None, "unknown is no evidence");
        assert_eq!(route.observe(at(30), Some(1)), None, "pending again from 30 s");
        assert_eq!(route.observe(at(45), Some(1)), None);
        assert_eq!(route.observe(at(60), Some(1)), Some(at(45)));
        assert_eq!(route.observe(at(75), Some(0)), None);
        assert_eq!(route.observe(at(90), Some(2)), None, "a new episode waits for `for` again");
    }
}
