use thiserror::Error;

#[derive(Debug, Error)]
pub enum Error {
    #[error(transparent)]
    Config(#[from] smartscale_core::Error),

    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: String, source: std::io::Error },

    #[error("server failed: {0}")]
    Serve(std::io::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
