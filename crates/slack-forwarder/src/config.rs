use smartscale_core::config::{self, ConfigSource};
use smartscale_core::slack::Links;
use smartscale_core::{Error, Result};

#[derive(Debug, Clone, PartialEq)]
pub struct ForwarderConfig {
    pub links: Links,
}

impl ForwarderConfig {
    /// `DASHBOARD_URL` and `LOGS_URL`, both optional: the message's buttons.
    pub fn from_config(source: &dyn ConfigSource) -> Result<Self> {
        let url = |var: &str| -> Result<Option<String>> {
            match config::optional(source, var) {
                Some(u) if u.starts_with("https://") || u.starts_with("http://") => Ok(Some(u)),
                Some(u) => Err(Error::config(var, format!("must be an http(s) URL, got {u:?}"))),
                None => Ok(None),
            }
        };
        Ok(ForwarderConfig { links: Links { dashboard_url: url("DASHBOARD_URL")?, logs_url: url("LOGS_URL")? } })
    }
}
