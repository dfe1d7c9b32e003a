//! How long delivering one message may take at worst, and the check, at cold start, that it
//! fits in the function's own timeout with room to spare. A forwarder that Lambda kills
//! mid-retry loses the attempt's outcome and logs nothing useful; one that gives up in time
//! fails the invocation cleanly, and Lambda's asynchronous retries take the message over.
//!
//! Worst case for one message: every attempt runs to its timeout (reqwest's timeout covers
//! connecting, sending and reading the answer), and every pause between attempts is the
//! longest allowed, `max_wait` (a `Retry-After` longer than that is not waited for: the
//! delivery fails at once). So `(max_retries + 1) × attempt_timeout + max_retries × max_wait`
//! must be at most the function timeout minus [`MARGIN`]. SNS gives a Lambda one record per
//! invocation, so this is the invocation's budget.

use std::time::Duration;

use smartscale_core::config::{self, ConfigSource};
use smartscale_core::{Error, Result};

/// Room left in the function's timeout after the worst case: the handler's own work, the
/// runtime's reporting and a slow cold start's tail.
pub const MARGIN: Duration = Duration::from_secs(10);
/// The first backoff without a `Retry-After`; it doubles per retry up to `max_wait`.
const FIRST_BACKOFF: Duration = Duration::from_millis(500);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryBudget {
    /// One POST, connect included.
    pub attempt_timeout: Duration,
    /// Attempts after the first, for 429, 5xx and transport failures.
    pub max_retries: u32,
    /// The longest pause between attempts, `Retry-After` or backoff.
    pub max_wait: Duration,
    /// The Lambda function's timeout, as the template sets it.
    pub function_timeout: Duration,
}

impl RetryBudget {
    /// A budget, refused unless its worst case fits the function timeout minus [`MARGIN`].
    pub fn new(
        attempt_timeout: Duration,
        max_retries: u32,
        max_wait: Duration,
        function_timeout: Duration,
    ) -> Result<RetryBudget> {
        if attempt_timeout.is_zero() {
            return Err(Error::config("SLACK_TIMEOUT_S", "must be more than 0"));
        }
        if function_timeout.is_zero() || function_timeout > Duration::from_secs(900) {
            return Err(Error::config(
                "SLACK_FUNCTION_TIMEOUT_S",
                format!("must be between 1 and 900 seconds (Lambda's range), got {}", secs(function_timeout)),
            ));
        }
        let budget = RetryBudget { attempt_timeout, max_retries, max_wait, function_timeout };
        let allowed = function_timeout.saturating_sub(MARGIN);
        match budget.worst_case() {
            Some(worst) if worst <= allowed => Ok(budget),
            worst => Err(Error::config(
                "SLACK_MAX_RETRIES",
                format!(
                    "the worst case of {} attempts × SLACK_TIMEOUT_S {} + {max_retries} pauses × SLACK_MAX_WAIT_S {} \
                     is {}, over the function timeout SLACK_FUNCTION_TIMEOUT_S {} minus a {} margin ({}): \
                     lower the retries, the timeout or the wait",
                    u64::from(max_retries) + 1,
                    secs(attempt_timeout),
                    secs(max_wait),
                    worst.map(secs).unwrap_or_else(|| "beyond counting".into()),
                    secs(function_timeout),
                    secs(MARGIN),
                    secs(allowed),
                ),
            )),
        }
    }

    /// `SLACK_TIMEOUT_S` (5), `SLACK_MAX_RETRIES` (3), `SLACK_MAX_WAIT_S` (8), and
    /// `SLACK_FUNCTION_TIMEOUT_S` (required: the template sets it beside the function's
    /// `Timeout`, and a test holds the two equal).
    pub fn from_config(source: &dyn ConfigSource) -> Result<RetryBudget> {
        let function_timeout_s: u64 = config::required(source, "SLACK_FUNCTION_TIMEOUT_S")?
            .parse()
            .map_err(|e| Error::config("SLACK_FUNCTION_TIMEOUT_S", format!("not a number of seconds: {e}")))?;
        RetryBudget::new(
            Duration::from_secs(config::parsed(source, "SLACK_TIMEOUT_S")?.unwrap_or(5)),
            config::parsed(source, "SLACK_MAX_RETRIES")?.unwrap_or(3),
            Duration::from_secs(config::parsed(source, "SLACK_MAX_WAIT_S")?.unwrap_or(8)),
            Duration::from_secs(function_timeout_s),
        )
    }

    /// Every attempt timing out and every pause at its longest; `None` past `Duration`'s range.
    pub fn worst_case(&self) -> Option<Duration> {
        let attempts = self.attempt_timeout.checked_mul(self.max_retries.checked_add(1)?)?;
        attempts.checked_add(self.max_wait.checked_mul(self.max_retries)?)
    }

    /// The pause before retry number `retry` (0 for the first retry): Slack's `Retry-After`
    /// if it gave one, else an exponential backoff, never more than `max_wait`. `None` when
    /// Slack asks for longer than `max_wait`: waiting would break the budget, and retrying
    /// sooner than asked would only be refused again.
    pub fn pause(&self, retry: u32, retry_after: Option<Duration>) -> Option<Duration> {
        match retry_after {
            Some(asked) if asked > self.max_wait => None,
            Some(asked) => Some(asked),
            None => Some(
                2u32.checked_pow(retry)
                    .and_then(|factor| FIRST_BACKOFF.checked_mul(factor))
                    .map_or(self.max_wait, |b| b.min(self.max_wait)),
            ),
        }
    }
}

fn secs(d: Duration) -> String {
    format!("{} s", d.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use smartscale_core::config::MapConfig;

    use super::*;

    fn s(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[test]
    fn the_defaults_fit_the_templates_sixty_seconds() {
        let budget = RetryBudget::from_config(&MapConfig::new().with("SLACK_FUNCTION_TIMEOUT_S", "60")).unwrap();
        assert_eq!(budget.worst_case(), Some(s(4 * 5 + 3 * 8)));
        assert!(budget.worst_case().unwrap() <= s(60) - MARGIN);
    }

    #[test]
    fn a_budget_over_the_timeout_is_refused_naming_the_figures() {
        // The old defaults: 4 × 5 s + 3 × 20 s = 80 s, over a 60 s function.
        let err = RetryBudget::new(s(5), 3, s(20), s(60)).unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, Error::Config { ref var, .. } if var == "SLACK_MAX_RETRIES"), "{text}");
        assert!(text.contains("is 80 s") && text.contains("60 s minus a 10 s margin (50 s)"), "{text}");
        // Exactly at the limit is fine; one second over is not.
        assert!(RetryBudget::new(s(5), 3, s(10), s(60)).is_ok(), "4 × 5 + 3 × 10 = 50");
        assert!(RetryBudget::new(s(5), 3, s(10), s(59)).is_err());
        assert!(RetryBudget::new(s(1), u32::MAX, s(1), s(60)).is_err(), "no overflow on huge counts");
        assert!(RetryBudget::new(s(5), 0, s(0), s(5)).is_err(), "a timeout inside the margin leaves no room");
    }

    #[test]
    fn configuration_errors_name_the_variable() {
        for (cfg, var) in [
            (MapConfig::new(), "SLACK_FUNCTION_TIMEOUT_S"),
            (MapConfig::new().with("SLACK_FUNCTION_TIMEOUT_S", "a minute"), "SLACK_FUNCTION_TIMEOUT_S"),
            (MapConfig::new().with("SLACK_FUNCTION_TIMEOUT_S", "901"), "SLACK_FUNCTION_TIMEOUT_S"),
            (MapConfig::new().with("SLACK_FUNCTION_TIMEOUT_S", "60").with("SLACK_TIMEOUT_S", "0"), "SLACK_TIMEOUT_S"),
            (
                MapConfig::new().with("SLACK_FUNCTION_TIMEOUT_S", "60").with("SLACK_MAX_RETRIES", "-1"),
                "SLACK_MAX_RETRIES",
            ),
            (MapConfig::new().with("SLACK_FUNCTION_TIMEOUT_S", "30"), "SLACK_MAX_RETRIES"),
        ] {
            let err = RetryBudget::from_config(&cfg).unwrap_err();
            assert!(matches!(err, Error::Config { var: ref v, .. } if v == var), "{var}: {err}");
        }
    }

    #[test]
    fn pauses_never_exceed_max_wait_and_a_longer_retry_after_gives_up() {
        let budget = RetryBudget::new(s(5), 3, s(8), s(60)).unwrap();
        let backoffs: Vec<Duration> = (0..6).map(|r| budget.pause(r, None).unwrap()).collect();
        assert_eq!(backoffs, [500, 1000, 2000, 4000, 8000, 8000].map(Duration::from_millis));
        assert_eq!(budget.pause(40, None), Some(s(8)), "no overflow on a large retry number");
        assert_eq!(budget.pause(0, Some(s(8))), Some(s(8)));
        assert_eq!(budget.pause(0, Some(s(9))), None);
    }

    /// The proof, over every accepted budget in a grid: the longest run the retry loop can
    /// make (each attempt at its timeout, each pause the longest `pause` can return) fits.
    #[test]
    fn every_accepted_budget_fits_its_timeout() {
        let mut accepted = 0;
        for timeout in 1..=30 {
            for retries in 0..=10 {
                for wait in 0..=30 {
                    for function in [15, 30, 60, 120, 900] {
                        let Ok(budget) = RetryBudget::new(s(timeout), retries, s(wait), s(function)) else { continue };
                        accepted += 1;
                        let longest_pause = |r| {
                            [None, Some(s(wait)), Some(s(wait + 1))]
                                .into_iter()
                                .filter_map(|after| budget.pause(r, after))
                                .max()
                                .unwrap()
                        };
                        let run = s(timeout) * (retries + 1) + (0..retries).map(longest_pause).sum::<Duration>();
                        assert!(run <= s(function) - MARGIN, "{budget:?}: {run:?}");
                    }
                }
            }
        }
        assert!(accepted > 1000, "the grid exercises many budgets: {accepted}");
    }
}
