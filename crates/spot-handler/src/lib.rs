//! Spot-interruption handler Lambda: drains interrupted Spot nodes and requests replacements.
//!
//! Skeleton: the handler lands with its own issue.
