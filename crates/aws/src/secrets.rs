use aws_config::SdkConfig;
use smartscale_core::{Error, Result};

use crate::sdk_error;

/// Reads secrets from Secrets Manager. Secret values never appear in errors or logs.
#[derive(Debug, Clone)]
pub struct SecretsClient {
    client: aws_sdk_secretsmanager::Client,
}

impl SecretsClient {
    pub fn new(config: &SdkConfig) -> Self {
        SecretsClient { client: aws_sdk_secretsmanager::Client::new(config) }
    }

    /// The secret's string value.
    pub async fn string(&self, secret_id: &str) -> Result<String> {
        let out = self
            .client
            .get_secret_value()
            .secret_id(secret_id)
            .send()
            .await
            .map_err(|e| sdk_error("secretsmanager", "GetSecretValue", e))?;
        out.secret_string()
            .map(str::to_string)
            .ok_or_else(|| Error::rejected("secretsmanager", format!("secret {secret_id} has no string value")))
    }

    /// The secret parsed as a JSON object, with `field` read as a string.
    pub async fn json_field(&self, secret_id: &str, field: &str) -> Result<String> {
        let text = self.string(secret_id).await?;
        let json: serde_json::Value =
            serde_json::from_str(&text).map_err(|_| Error::invalid(secret_id, "the secret is not a JSON object"))?;
        json.get(field)
            .and_then(|v| v.as_str())
            .map(str::to_string)
            .ok_or_else(|| Error::invalid(format!("{secret_id}.{field}"), "missing or not a string in the secret"))
    }
}

/// Prometheus' basic-auth credentials, `(username, password)`, from the JSON secret named by
/// `PROMETHEUS_AUTH_SECRET_ID` (fields `username` and `password`); `None` when it is unset.
pub async fn prometheus_basic_auth(
    sdk: &SdkConfig,
    source: &dyn smartscale_core::config::ConfigSource,
) -> Result<Option<(String, String)>> {
    let Some(secret_id) = smartscale_core::config::optional(source, "PROMETHEUS_AUTH_SECRET_ID") else {
        return Ok(None);
    };
    let secrets = SecretsClient::new(sdk);
    Ok(Some((secrets.json_field(&secret_id, "username").await?, secrets.json_field(&secret_id, "password").await?)))
}
