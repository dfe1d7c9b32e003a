//! This Lambda's error: the shared handler error, so every Lambda reports failures to the
//! runtime the same way.

pub use smartscale_lambda::{HandlerError as Error, HandlerResult as Result};
