//! Drain worker Lambda: picks a safe node, cordons it, evicts its pods and terminates it.
//!
//! Skeleton: the handler lands with its own issue.
