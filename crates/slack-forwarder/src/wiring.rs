//! Production wiring: the webhook URL from Secrets Manager, read once at cold start and kept
//! for the container's lifetime.

use aws_config::SdkConfig;
use smartscale_aws::SecretsClient;
use smartscale_core::config::{self, ConfigSource};
use smartscale_core::Error;

use crate::webhook::WebhookClient;
use crate::{Deps, ForwarderConfig, Result, RetryBudget};

/// `SLACK_WEBHOOK_SECRET_ID` (a secret holding the URL, or JSON `{"url": …}`), the retry
/// budget ([`RetryBudget::from_config`], checked before the secret is read), and the links.
pub async fn aws_deps(sdk: &SdkConfig, source: &dyn ConfigSource) -> Result<Deps<WebhookClient>> {
    let config = ForwarderConfig::from_config(source)?;
    let budget = RetryBudget::from_config(source)?;
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
    let slack = WebhookClient::new(url, budget)?;
    Ok(Deps { config, slack })
}
