use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};

use super::{lock, FakeClock, Faults, Recorder};
use crate::ports::{Clock, Fleet, Instance, InstanceState, LaunchOutcome, LaunchRequest, Lifecycle};
use crate::{tags, Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FleetOp {
    Launch,
    Terminate,
    Describe,
}

#[derive(Debug, Clone, PartialEq)]
pub enum FleetCall {
    Launch(LaunchRequest),
    Terminate(Vec<String>),
    Describe,
}

#[derive(Debug, Default)]
struct FleetState {
    instances: BTreeMap<String, Instance>,
    by_client_token: HashMap<String, String>,
    launched: u64,
    /// (instance type, AZ, lifecycle) pools that answer InsufficientInstanceCapacity.
    unavailable: HashSet<(String, String, Lifecycle)>,
    /// Active instances (managed or not) beyond which launches hit the vCPU quota.
    instance_limit: Option<usize>,
    /// Bumped by every change to an instance: a reader that keeps a copy refreshes it only then.
    generation: u64,
    /// When each terminated instance was terminated, for [`FakeFleet::forget_terminated_before`].
    terminated_at: HashMap<String, chrono::DateTime<chrono::Utc>>,
}

/// An EC2 account in memory: instances, idempotent launches by client token, capacity
/// shortages per pool and an instance quota.
#[derive(Debug, Clone)]
pub struct FakeFleet {
    cluster_id: String,
    clock: FakeClock,
    state: Arc<Mutex<FleetState>>,
    pub calls: Arc<Recorder<FleetCall>>,
    pub faults: Arc<Faults<FleetOp>>,
}

impl FakeFleet {
    pub fn new(cluster_id: impl Into<String>, clock: FakeClock) -> Self {
        FakeFleet {
            cluster_id: cluster_id.into(),
            clock,
            state: Arc::default(),
            calls: Arc::default(),
            faults: Arc::default(),
        }
    }

    /// Adds an instance as is (for seeding, e.g. an unmanaged instance).
    pub fn insert(&self, instance: Instance) {
        let mut state = lock(&self.state);
        state.generation += 1;
        state.instances.insert(instance.instance_id.clone(), instance);
    }

    /// Adds a running instance managed for this fleet's cluster, as if launched earlier.
    pub fn add_running(&self, instance_type: &str, availability_zone: &str, lifecycle: Lifecycle) -> Instance {
        let mut state = lock(&self.state);
        state.launched += 1;
        state.generation += 1;
        let n = state.launched;
        let instance = Instance {
            instance_id: format!("i-{n:017x}"),
            instance_type: instance_type.into(),
            availability_zone: availability_zone.into(),
            subnet_id: format!("subnet-{availability_zone}"),
            lifecycle,
            state: InstanceState::Running,
            private_dns_name: Some(format!("ip-10-0-{}-{}.ec2.internal", n / 250, n % 250 + 4)),
            launched_at: Some(self.clock.now()),
            tags: tags::launch_tags(&self.cluster_id, "seed", lifecycle),
        };
        state.instances.insert(instance.instance_id.clone(), instance.clone());
        instance
    }

    /// Forgets the instances terminated at or before `cutoff`, as EC2 stops describing an
    /// instance about an hour after its termination (not at once: a worker that looks a few
    /// minutes later still sees it terminated).
    pub fn forget_terminated_before(&self, cutoff: chrono::DateTime<chrono::Utc>) {
        let mut state = lock(&self.state);
        state.generation += 1;
        let FleetState { instances, by_client_token, terminated_at, .. } = &mut *state;
        instances
            .retain(|id, i| i.state != InstanceState::Terminated || terminated_at.get(id).is_some_and(|t| *t > cutoff));
        terminated_at.retain(|id, _| instances.contains_key(id));
        // Their idempotency tokens go with them: a token names an instance EC2 still knows.
        by_client_token.retain(|_, id| instances.contains_key(id));
    }

    pub fn instance(&self, id: &str) -> Option<Instance> {
        lock(&self.state).instances.get(id).cloned()
    }

    pub fn instances(&self) -> Vec<Instance> {
        lock(&self.state).instances.values().cloned().collect()
    }

    /// Runs `f` on the instances by id, borrowed: for a reader that needs no copy.
    pub fn with_instances<R>(&self, f: impl FnOnce(&BTreeMap<String, Instance>) -> R) -> R {
        f(&lock(&self.state).instances)
    }

    /// A number that changes whenever an instance is added, changed or forgotten (never otherwise).
    pub fn generation(&self) -> u64 {
        lock(&self.state).generation
    }

    pub fn set_state(&self, id: &str, to: InstanceState) {
        let now = self.clock.now();
        let mut state = lock(&self.state);
        let FleetState { instances, generation, terminated_at, .. } = &mut *state;
        if let Some(i) = instances.get_mut(id) {
            i.state = to;
            *generation += 1;
            if to == InstanceState::Terminated {
                terminated_at.entry(id.to_string()).or_insert(now);
            }
        }
    }

    pub fn make_unavailable(&self, instance_type: &str, availability_zone: &str, lifecycle: Lifecycle) {
        lock(&self.state).unavailable.insert((instance_type.into(), availability_zone.into(), lifecycle));
    }

    /// Ends a capacity shortage started by [`FakeFleet::make_unavailable`].
    pub fn make_available(&self, instance_type: &str, availability_zone: &str, lifecycle: Lifecycle) {
        lock(&self.state).unavailable.remove(&(instance_type.into(), availability_zone.into(), lifecycle));
    }

    pub fn set_instance_limit(&self, limit: Option<usize>) {
        lock(&self.state).instance_limit = limit;
    }
}

impl Fleet for FakeFleet {
    async fn launch(&self, request: &LaunchRequest) -> Result<LaunchOutcome> {
        self.calls.record_with(|| FleetCall::Launch(request.clone()));
        self.faults.check(FleetOp::Launch)?;
        let mut state = lock(&self.state);
        if let Some(existing) = state.by_client_token.get(&request.client_token) {
            return Ok(LaunchOutcome::Launched(state.instances[existing].clone()));
        }
        let pool = (request.instance_type.clone(), request.availability_zone.clone(), request.lifecycle);
        if state.unavailable.contains(&pool) {
            return Ok(LaunchOutcome::InsufficientCapacity {
                code: "InsufficientInstanceCapacity".into(),
                message: format!("no {} {} capacity in {}", request.lifecycle.as_str(), pool.0, pool.1),
            });
        }
        let active = state.instances.values().filter(|i| i.state.is_active()).count();
        if state.instance_limit.is_some_and(|limit| active >= limit) {
            return Ok(LaunchOutcome::QuotaExceeded {
                code: "VcpuLimitExceeded".into(),
                message: format!("vCPU quota reached with {active} running instances"),
            });
        }
        state.launched += 1;
        state.generation += 1;
        let n = state.launched;
        let instance = Instance {
            instance_id: format!("i-{n:017x}"),
            instance_type: request.instance_type.clone(),
            availability_zone: request.availability_zone.clone(),
            subnet_id: request.subnet_id.clone(),
            lifecycle: request.lifecycle,
            state: InstanceState::Pending,
            private_dns_name: Some(format!("ip-10-0-{}-{}.ec2.internal", n / 250, n % 250 + 4)),
            launched_at: Some(self.clock.now()),
            tags: request.tags.clone(),
        };
        state.by_client_token.insert(request.client_token.clone(), instance.instance_id.clone());
        state.instances.insert(instance.instance_id.clone(), instance.clone());
        Ok(LaunchOutcome::Launched(instance))
    }

    async fn terminate(&self, instance_ids: &[String]) -> Result<()> {
        self.calls.record_with(|| FleetCall::Terminate(instance_ids.to_vec()));
        self.faults.check(FleetOp::Terminate)?;
        let mut state = lock(&self.state);
        for id in instance_ids {
            let managed = state.instances.get(id).is_some_and(|i| tags::is_managed(&i.tags, &self.cluster_id));
            if !managed {
                return Err(Error::rejected(
                    "ec2",
                    format!("refusing to terminate {id}: not managed for cluster {}", self.cluster_id),
                ));
            }
        }
        state.generation += 1;
        let now = self.clock.now();
        let FleetState { instances, terminated_at, .. } = &mut *state;
        for id in instance_ids {
            if let Some(i) = instances.get_mut(id) {
                i.state = InstanceState::Terminated;
                terminated_at.entry(id.clone()).or_insert(now);
            }
        }
        Ok(())
    }

    async fn describe_managed(&self) -> Result<Vec<Instance>> {
        self.calls.record_with(|| FleetCall::Describe);
        self.faults.check(FleetOp::Describe)?;
        Ok(lock(&self.state)
            .instances
            .values()
            .filter(|i| tags::is_managed(&i.tags, &self.cluster_id))
            .cloned()
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(token: &str, lifecycle: Lifecycle) -> LaunchRequest {
        LaunchRequest {
            client_token: token.into(),
            instance_type: "t3.small".into(),
            subnet_id: "subnet-a".into(),
            availability_zone: "us-east-1a".into(),
            lifecycle,
            tags: tags::launch_tags("prod", "d-1", lifecycle),
        }
    }

    #[tokio::test]
    async fn launches_idempotently_and_refuses_unmanaged_terminations() {
        let fleet = FakeFleet::new("prod", FakeClock::new("2026-11-23T10:00:00Z".parse().unwrap()));
        let LaunchOutcome::Launched(a) = fleet.launch(&request("t-1", Lifecycle::Spot)).await.unwrap() else {
            panic!()
        };
        let LaunchOutcome::Launched(b) = fleet.launch(&request("t-1", Lifecycle::Spot)).await.unwrap() else {
            panic!()
        };
        assert_eq!(a.instance_id, b.instance_id);
        assert_eq!(fleet.describe_managed().await.unwrap().len(), 1);

        let mut stranger = a.clone();
        stranger.instance_id = "i-stranger".into();
        stranger.tags.clear();
        fleet.insert(stranger);
        let err = fleet.terminate(&["i-stranger".into()]).await.unwrap_err();
        assert!(matches!(err, Error::Rejected { .. }), "{err}");
        fleet.terminate(std::slice::from_ref(&a.instance_id)).await.unwrap();
        assert_eq!(fleet.instance(&a.instance_id).unwrap().state, InstanceState::Terminated);
    }

    #[tokio::test]
    async fn terminated_instances_are_described_for_a_while_then_forgotten() {
        let clock = FakeClock::new("2026-11-23T10:00:00Z".parse().unwrap());
        let fleet = FakeFleet::new("prod", clock.clone());
        let LaunchOutcome::Launched(a) = fleet.launch(&request("t-1", Lifecycle::Spot)).await.unwrap() else {
            panic!()
        };
        let LaunchOutcome::Launched(b) = fleet.launch(&request("t-2", Lifecycle::Spot)).await.unwrap() else {
            panic!()
        };
        fleet.terminate(std::slice::from_ref(&a.instance_id)).await.unwrap();
        clock.advance(1800);
        fleet.set_state(&b.instance_id, InstanceState::Terminated);
        clock.advance(1800);
        // An hour after a's termination, half an hour after b's (a Spot reclaim).
        fleet.forget_terminated_before(clock.now() - chrono::Duration::hours(1));
        let described: Vec<String> =
            fleet.describe_managed().await.unwrap().into_iter().map(|i| i.instance_id).collect();
        assert_eq!(described, vec![b.instance_id.clone()], "a is forgotten, b still described as terminated");
        clock.advance(1800);
        fleet.forget_terminated_before(clock.now() - chrono::Duration::hours(1));
        assert!(fleet.describe_managed().await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn capacity_and_quota_are_outcomes() {
        let fleet = FakeFleet::new("prod", FakeClock::new("2026-11-23T10:00:00Z".parse().unwrap()));
        fleet.make_unavailable("t3.small", "us-east-1a", Lifecycle::Spot);
        assert!(matches!(
            fleet.launch(&request("t-1", Lifecycle::Spot)).await.unwrap(),
            LaunchOutcome::InsufficientCapacity { .. }
        ));
        fleet.set_instance_limit(Some(0));
        assert!(matches!(
            fleet.launch(&request("t-2", Lifecycle::OnDemand)).await.unwrap(),
            LaunchOutcome::QuotaExceeded { .. }
        ));
    }
}
