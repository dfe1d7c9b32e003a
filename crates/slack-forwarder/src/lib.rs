//! Slack forwarder Lambda: turns SNS notifications and CloudWatch alarms into Slack messages.
//!
//! Skeleton: the handler lands with its own issue.
