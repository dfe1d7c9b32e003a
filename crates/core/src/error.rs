use thiserror::Error;

/// Errors shared by the core and by every port. Adapters map their SDK errors onto
/// these variants so that handlers can decide what is retryable without knowing
/// which backend produced the error.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum Error {
    /// A configuration value is missing, unparsable, out of range or contradictory.
    #[error("configuration {var}: {message}")]
    Config { var: String, message: String },

    /// Input data (a scenario, a message, an event) is malformed.
    #[error("invalid input at `{field}`: {message}")]
    Invalid { field: String, message: String },

    /// A message carries a format version this build does not understand.
    #[error("unsupported {what} version {found} (this build understands version {supported})")]
    UnsupportedVersion { what: &'static str, found: String, supported: u32 },

    /// A message carries a kind this build does not understand.
    #[error("unknown {what} kind `{kind}`")]
    UnknownKind { what: &'static str, kind: String },

    /// A dependency could not be reached or answered with a transient failure; retrying may help.
    #[error("{service} unavailable: {message}")]
    Unavailable { service: String, message: String },

    /// A dependency refused the request; retrying the same request will not help.
    #[error("{service} rejected the request: {message}")]
    Rejected { service: String, message: String },

    /// The named object does not exist.
    #[error("{what} `{name}` not found")]
    NotFound { what: &'static str, name: String },

    /// A message asks for something the world does not bear out (another cluster, a node that is
    /// not ours, a control-plane node): refused without acting, so a forged or stale message
    /// never removes anything.
    #[error("message refused at `{field}`: {message}")]
    RejectedMessage { field: String, message: String },
}

impl Error {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Invalid { field: field.into(), message: message.into() }
    }

    pub fn config(var: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Config { var: var.into(), message: message.into() }
    }

    pub fn unavailable(service: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Unavailable { service: service.into(), message: message.into() }
    }

    pub fn rejected_message(field: impl Into<String>, message: impl Into<String>) -> Self {
        Error::RejectedMessage { field: field.into(), message: message.into() }
    }

    pub fn rejected(service: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Rejected { service: service.into(), message: message.into() }
    }

    /// Whether the same call may succeed if tried again later.
    pub fn is_transient(&self) -> bool {
        matches!(self, Error::Unavailable { .. })
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Parses JSON into `T`, naming the offending field path (e.g. `samples[2].cpu_pct`) on failure.
pub fn from_json_str<T: serde::de::DeserializeOwned>(text: &str) -> Result<T> {
    let de = &mut serde_json::Deserializer::from_str(text);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let field = if path == "." { "<root>".to_string() } else { path };
        Error::invalid(field, e.into_inner().to_string())
    })
}

/// Like [`from_json_str`] for an already parsed value.
pub fn from_json_value<T: serde::de::DeserializeOwned>(value: serde_json::Value) -> Result<T> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let field = if path == "." { "<root>".to_string() } else { path };
        Error::invalid(field, e.into_inner().to_string())
    })
}
