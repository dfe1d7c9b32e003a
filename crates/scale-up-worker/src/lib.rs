//! Scale-up worker Lambda: launches EC2 instances for a scale-up request and tracks them until they join.
//!
//! Skeleton: the handler lands with its own issue.
