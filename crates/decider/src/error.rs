use lambda_runtime::Diagnostic;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Core(#[from] smartscale_core::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<Error> for Diagnostic {
    fn from(error: Error) -> Self {
        let error_type = match &error {
            Error::Core(e) => match e {
                smartscale_core::Error::Config { .. } => "Config",
                smartscale_core::Error::Invalid { .. } => "InvalidInput",
                smartscale_core::Error::UnsupportedVersion { .. }
                | smartscale_core::Error::UnknownKind { .. } => "UnsupportedMessage",
                smartscale_core::Error::Unavailable { .. } => "DependencyUnavailable",
                smartscale_core::Error::Rejected { .. } => "DependencyRejected",
                smartscale_core::Error::NotFound { .. } => "NotFound",
            },
        };
        Diagnostic {
            error_type: error_type.into(),
            error_message: error.to_string(),
        }
    }
}
