//! Production wiring: the webhook URL from Secrets Manager, read once at cold start and kept
//! for the container's lifetime.

use std::time::Duration;

use aws_config::SdkConfig;
use smartscale_aws::SecretsClient;
use smartscale_core::config::{self, ConfigSource};
use smartscale_core::Error;

use crate::webhook::WebhookClient;
use crate::{Deps, ForwarderConfig, Result};

/// `SLACK_WEBHOOK_SECRET_ID` (a secret holding the URL, or JSON `{"url": …}`),
/// `SLACK_TIMEOUT_S` (5), `SLACK_MAX_RETRIES` (3), `SLACK_MAX_WAIT_S` (20), and the links.
pub async fn aws_deps(sdk: &SdkConfig, source: &dyn ConfigSource) -> Result<Deps<WebhookClient>> {
    let config = ForwarderConfig::from_config(source)?;
    let secret_id = config::required(source, "SLACK_WEBHOOK_SECRET_ID")?;
    let secret = SecretsClient::new(sdk).string(&secret_id).await?;
    let url = match serde_json::from_str::<serde_json::Value>(&secret) {
        Ok(json) => json
            .get("url")
            .and_then(|u| u.as_str())
            .map(str::to_string)
            .ok_or_else(|| Error::config("SLACK_WEBHOOK_SECRET_ID", "the secret is JSON without a string `url`"))?,
        Err(_) => secret.trim().to_string(),
    };
    let timeout_s: u64 = config::parsed(source, "SLACK_TIMEOUT_S")?.unwrap_or(5);
    let max_retries: u32 = config::parsed(source, "SLACK_MAX_RETRIES")?.unwrap_or(3);
    let max_wait_s: u64 = config::parsed(source, "SLACK_MAX_WAIT_S")?.unwrap_or(20);
    let slack = WebhookClient::new(url, Duration::from_secs(timeout_s), max_retries, Duration::from_secs(max_wait_s))?;
    Ok(Deps { config, slack })
}
