//! The AWS resources every Lambda is wired to, read and validated from configuration.

use smartscale_core::config::{self, ConfigSource};
use smartscale_core::{Error, Result};

use crate::LaunchTemplate;

/// The state table, the two work queues and the notifications topic.
#[derive(Debug, Clone, PartialEq)]
pub struct SharedResources {
    pub table: String,
    pub scale_up_queue_url: String,
    pub drain_queue_url: String,
    pub topic_arn: String,
}

impl SharedResources {
    /// `DYNAMODB_TABLE`, `SCALE_UP_QUEUE_URL`, `DRAIN_QUEUE_URL`, `SNS_TOPIC_ARN`.
    pub fn from_config(source: &dyn ConfigSource) -> Result<Self> {
        let table = config::required(source, "DYNAMODB_TABLE")?;
        let scale_up_queue_url = queue_url(source, "SCALE_UP_QUEUE_URL")?;
        let drain_queue_url = queue_url(source, "DRAIN_QUEUE_URL")?;
        let topic_arn = config::required(source, "SNS_TOPIC_ARN")?;
        if !topic_arn.starts_with("arn:") {
            return Err(Error::config("SNS_TOPIC_ARN", format!("must be an SNS topic ARN, got {topic_arn:?}")));
        }
        Ok(SharedResources { table, scale_up_queue_url, drain_queue_url, topic_arn })
    }
}

fn queue_url(source: &dyn ConfigSource, var: &str) -> Result<String> {
    let value = config::required(source, var)?;
    if value.starts_with("https://") || value.starts_with("http://") {
        Ok(value)
    } else {
        Err(Error::config(var, format!("must be a queue URL, got {value:?}")))
    }
}

/// `LAUNCH_TEMPLATE_ID` (`lt-…`) or `LAUNCH_TEMPLATE_NAME`, exactly one.
pub fn launch_template(source: &dyn ConfigSource) -> Result<LaunchTemplate> {
    match (config::optional(source, "LAUNCH_TEMPLATE_ID"), config::optional(source, "LAUNCH_TEMPLATE_NAME")) {
        (Some(id), None) if id.starts_with("lt-") => Ok(LaunchTemplate::Id(id)),
        (Some(id), None) => Err(Error::config("LAUNCH_TEMPLATE_ID", format!("must start with lt-, got {id:?}"))),
        (None, Some(name)) => Ok(LaunchTemplate::Name(name)),
        (Some(_), Some(_)) => {
            Err(Error::config("LAUNCH_TEMPLATE_ID", "set LAUNCH_TEMPLATE_ID or LAUNCH_TEMPLATE_NAME, not both"))
        }
        (None, None) => Err(Error::config(
            "LAUNCH_TEMPLATE_ID",
            "a launch template is required (LAUNCH_TEMPLATE_ID or LAUNCH_TEMPLATE_NAME)",
        )),
    }
}

#[cfg(test)]
mod tests {
    use smartscale_core::config::MapConfig;

    use super::*;

    #[test]
    fn names_the_bad_variable() {
        let ok = MapConfig::new()
            .with("DYNAMODB_TABLE", "t")
            .with("SCALE_UP_QUEUE_URL", "https://sqs/1/up")
            .with("DRAIN_QUEUE_URL", "https://sqs/1/drain")
            .with("SNS_TOPIC_ARN", "arn:aws:sns:us-east-1:1:t");
        assert!(SharedResources::from_config(&ok).is_ok());
        for (config, var) in [
            (ok.clone().with("DRAIN_QUEUE_URL", "drain"), "DRAIN_QUEUE_URL"),
            (ok.clone().with("SNS_TOPIC_ARN", "topic"), "SNS_TOPIC_ARN"),
            (ok.clone().with("DYNAMODB_TABLE", ""), "DYNAMODB_TABLE"),
        ] {
            match SharedResources::from_config(&config) {
                Err(Error::Config { var: got, .. }) => assert_eq!(got, var),
                other => panic!("{var}: {other:?}"),
            }
        }
        assert_eq!(
            launch_template(&MapConfig::new().with("LAUNCH_TEMPLATE_NAME", "k3s")).unwrap(),
            LaunchTemplate::Name("k3s".into())
        );
        assert!(launch_template(&MapConfig::new()).is_err());
        assert!(launch_template(&MapConfig::new().with("LAUNCH_TEMPLATE_ID", "k3s")).is_err());
    }
}
