//! Posting to a Slack incoming webhook. The URL is a credential: it never appears in logs or
//! errors (reqwest errors are stripped of it, and `Debug` redacts it).

use std::time::Duration;

use serde_json::Value;
use smartscale_core::{Error, Result};
use tracing::warn;

use crate::{RetryBudget, SlackSink};

const SERVICE: &str = "slack";

pub struct WebhookClient {
    http: reqwest::Client,
    url: String,
    /// Attempts, their timeout and the pauses between them, checked to fit the function's timeout.
    budget: RetryBudget,
}

impl std::fmt::Debug for WebhookClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookClient").field("url", &"<redacted>").field("budget", &self.budget).finish()
    }
}

impl WebhookClient {
    pub fn new(url: String, budget: RetryBudget) -> Result<Self> {
        if !(url.starts_with("https://") || url.starts_with("http://")) {
            return Err(Error::config("SLACK_WEBHOOK_SECRET_ID", "the secret does not hold a webhook URL"));
        }
        // `timeout` bounds the whole attempt (connect, send, answer and body), which the
        // budget's worst case counts on.
        let http = reqwest::Client::builder()
            .timeout(budget.attempt_timeout)
            .connect_timeout(budget.attempt_timeout)
            .build()
            .map_err(|e| {
                Error::config("SLACK_WEBHOOK_SECRET_ID", format!("cannot build an HTTP client: {}", e.without_url()))
            })?;
        Ok(WebhookClient { http, url, budget })
    }
}

/// `Retry-After` in seconds (Slack sends whole seconds); an unreadable one counts as absent.
fn retry_after(response: &reqwest::Response) -> Option<Duration> {
    response
        .headers()
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

impl SlackSink for WebhookClient {
    async fn post(&self, message: &Value) -> Result<()> {
        let mut attempt = 0;
        loop {
            let failure = match self.http.post(&self.url).json(message).send().await {
                Ok(response) if response.status().is_success() => return Ok(()),
                Ok(response) => {
                    let status = response.status();
                    let wait = retry_after(&response);
                    if status.as_u16() != 429 && !status.is_server_error() {
                        let body = response.text().await.unwrap_or_default();
                        let body: String = body.chars().take(200).collect();
                        return Err(Error::rejected(SERVICE, format!("webhook answered HTTP {status}: {body}")));
                    }
                    (format!("HTTP {status}"), wait)
                }
                Err(e) => (e.without_url().to_string(), None),
            };
            if attempt >= self.budget.max_retries {
                return Err(Error::unavailable(
                    SERVICE,
                    format!("webhook failed after {} attempts: {}", attempt + 1, failure.0),
                ));
            }
            let Some(pause) = self.budget.pause(attempt, failure.1) else {
                return Err(Error::unavailable(
                    SERVICE,
                    format!(
                        "webhook answered {} with Retry-After {:?}, longer than SLACK_MAX_WAIT_S {:?} allows \
                         within the function timeout; not retrying in this invocation",
                        failure.0,
                        failure.1.unwrap_or_default(),
                        self.budget.max_wait
                    ),
                ));
            };
            attempt += 1;
            warn!(attempt, error = %failure.0, "Slack delivery failed; retrying in {pause:?}");
            tokio::time::sleep(pause).await;
        }
    }
}
