//! The EC2 tags SmartScale puts on every instance it launches, and the test for "managed".

use std::collections::BTreeMap;

use crate::ports::Lifecycle;

pub const PROJECT: (&str, &str) = ("Project", "SmartScale");
pub const MANAGED_BY: (&str, &str) = ("ManagedBy", "Lambda");
pub const SCALING_GROUP: (&str, &str) = ("ScalingGroup", "k3s-workers");
pub const CLUSTER: &str = "Cluster";
pub const LIFECYCLE: &str = "Lifecycle";
pub const DECISION_ID: &str = "DecisionId";

/// The full tag set for an instance launched for `cluster_id` by decision `decision_id`.
pub fn launch_tags(cluster_id: &str, decision_id: &str, lifecycle: Lifecycle) -> BTreeMap<String, String> {
    [
        (PROJECT.0, PROJECT.1),
        (MANAGED_BY.0, MANAGED_BY.1),
        (SCALING_GROUP.0, SCALING_GROUP.1),
        (CLUSTER, cluster_id),
        (LIFECYCLE, lifecycle.as_str()),
        (DECISION_ID, decision_id),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// Whether an instance with these tags is ours to manage for `cluster_id`. Every Lambda that
/// terminates, drains or counts instances filters on exactly this.
pub fn is_managed(tags: &BTreeMap<String, String>, cluster_id: &str) -> bool {
    tags.get(MANAGED_BY.0).map(String::as_str) == Some(MANAGED_BY.1)
        && tags.get(CLUSTER).map(String::as_str) == Some(cluster_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn launch_tags_are_managed_only_for_their_cluster() {
        let tags = launch_tags("prod", "d-1", Lifecycle::Spot);
        assert_eq!(tags["Lifecycle"], "spot");
        assert_eq!(tags["Project"], "SmartScale");
        assert!(is_managed(&tags, "prod"));
        assert!(!is_managed(&tags, "staging"));
        assert!(!is_managed(&BTreeMap::new(), "prod"));
    }
}
