use lambda_runtime::Diagnostic;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Core(#[from] smartscale_core::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<Error> for Diagnostic {
    fn from(error: Error) -> Self {
        let Error::Core(core) = &error;
        Diagnostic { error_type: smartscale_lambda::error_type(core).into(), error_message: error.to_string() }
    }
}
