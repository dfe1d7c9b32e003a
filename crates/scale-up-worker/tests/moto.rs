//! The scale-up worker's EC2 side against moto_server: launch-template launches with our tags
//! and subnet choice, the Spot/On-Demand mix and AZ balance over several scale-ups, terminating
//! on a join timeout, and redelivery. The cluster side is the core's fake (no API server here).
//!
//! moto records no spot request and does not implement the `instance-lifecycle` filter, so
//! Spot and On-Demand are counted by our `Lifecycle` tag, which is what every Lambda reads.
// The handler's futures nest deeply over the real SDK types.
#![recursion_limit = "256"]

use chrono::Utc;
use smartscale_aws::{Ec2Fleet, LaunchTemplate};
use smartscale_core::fakes::{FakeClock, FakeCluster, FakeMetricsSink, FakeNotifier, FakeQueue, FakeStateStore};
use smartscale_core::messages::{QueueName, ScaleUpRequest, WorkMessage};
use smartscale_core::ports::{Fleet, Instance, Lifecycle, Node};
use smartscale_scale_up_worker::{handle, Deps, ScaleUpConfig};
use smartscale_testbed::moto;

type MotoDeps = Deps<Ec2Fleet, FakeCluster, FakeStateStore, FakeQueue, FakeNotifier, FakeClock, FakeMetricsSink>;

async fn world() -> (MotoDeps, String) {
    let sdk = moto::sdk().await;
    let cluster_id = smartscale_testbed::unique("k3s");
    let template = moto::launch_template(&sdk).await;
    let subnets = moto::subnets(&sdk, 2).await;
    assert_eq!(subnets.len(), 2);
    let clock = FakeClock::new(Utc::now());
    let config = ScaleUpConfig {
        cluster_id: cluster_id.clone(),
        subnets,
        instance_types: vec!["t3.small".into(), "t3a.small".into()],
        spot_share: 0.7,
        min_on_demand: 2,
        join_timeout_s: 300,
        join_check_delay_s: 15,
        max_nodes: 10,
        max_launches_per_10m: 10,
        prices: Default::default(),
    };
    let deps = Deps {
        fleet: Ec2Fleet::new(&sdk, &cluster_id, Some(LaunchTemplate::Id(template))),
        cluster: FakeCluster::new(clock.clone()),
        state: FakeStateStore::new(),
        queue: FakeQueue::new(clock.clone()),
        notifier: FakeNotifier::new(),
        clock,
        sink: FakeMetricsSink::new(),
        config,
    };
    (deps, cluster_id)
}

fn request(cluster_id: &str, decision_id: &str, count: u32) -> String {
    WorkMessage::ScaleUpRequest(ScaleUpRequest {
        decision_id: decision_id.into(),
        cluster_id: cluster_id.into(),
        lock_token: None,
        count,
        reason: "pending pods".into(),
        requested_at: Utc::now(),
        avoid: vec![],
        replaces: None,
    })
    .encode()
}

async fn deliver(deps: &MotoDeps, bodies: &[String]) {
    let response = handle(smartscale_lambda::sqs_event(bodies.iter().cloned()), deps).await.unwrap();
    assert!(response.batch_item_failures.is_empty(), "{:?}", response.batch_item_failures);
}

async fn active(deps: &MotoDeps) -> Vec<Instance> {
    deps.fleet.describe_managed().await.unwrap().into_iter().filter(|i| i.state.is_active()).collect()
}

/// Registers each instance as a Ready node and runs the pending join checks.
async fn join_all(deps: &MotoDeps) {
    for instance in active(deps).await {
        if deps.cluster.node(&instance.instance_id).is_none() {
            deps.cluster.add_node(Node {
                name: instance.instance_id.clone(),
                provider_id: Some(format!("aws:///{}/{}", instance.availability_zone, instance.instance_id)),
                ready: true,
                ..Default::default()
            });
        }
    }
    deps.clock.advance(15);
    let due: Vec<String> = deps.queue.take_visible(QueueName::ScaleUp).into_iter().map(|m| m.body).collect();
    deliver(deps, &due).await;
}

#[tokio::test]
async fn launches_from_the_template_with_our_tags_into_the_emptiest_az() {
    let (deps, cluster_id) = world().await;
    deliver(&deps, &[request(&cluster_id, "dec-a", 1)]).await;
    let launched = active(&deps).await;
    assert_eq!(launched.len(), 1);
    let i = &launched[0];
    assert_eq!(i.subnet_id, deps.config.subnets[0].subnet_id, "ties go to the first subnet");
    assert_eq!(i.availability_zone, deps.config.subnets[0].availability_zone);
    assert_eq!(i.instance_type, "t3.small");
    for (k, v) in [
        ("Project", "SmartScale"),
        ("ManagedBy", "Lambda"),
        ("ScalingGroup", "k3s-workers"),
        ("Lifecycle", "on-demand"),
        ("DecisionId", "dec-a"),
    ] {
        assert_eq!(i.tags.get(k).map(String::as_str), Some(v), "tag {k}");
    }
    assert_eq!(i.tags["Cluster"], cluster_id);
    assert!(i.tags.contains_key("aws:ec2launchtemplate:id"), "launched from the template: {:?}", i.tags);
    let WorkMessage::JoinCheck(check) = deps.queue.queued()[0].message() else { panic!() };
    assert_eq!(check.instance_ids, vec![i.instance_id.clone()]);
}

#[tokio::test]
async fn several_scale_ups_mix_spot_and_on_demand_and_balance_azs() {
    let (deps, cluster_id) = world().await;
    for n in 0..4 {
        deliver(&deps, &[request(&cluster_id, &format!("dec-{n}"), 2)]).await;
        join_all(&deps).await;
    }
    let fleet = active(&deps).await;
    assert_eq!(fleet.len(), 8);
    let spot = fleet.iter().filter(|i| i.tags["Lifecycle"] == "spot").count();
    let on_demand = fleet.iter().filter(|i| i.tags["Lifecycle"] == "on-demand").count();
    assert_eq!((on_demand, spot), (4, 4), "2 On-Demand for the floor, then 4 Spot of 6 (round(0.7 × n))");
    for subnet in &deps.config.subnets {
        assert_eq!(
            fleet.iter().filter(|i| i.availability_zone == subnet.availability_zone).count(),
            4,
            "{}",
            subnet.availability_zone
        );
    }
    assert_eq!(deps.state.item(&cluster_id).unwrap().node_count, 8);
}

#[tokio::test]
async fn a_join_timeout_terminates_the_instance() {
    let (deps, cluster_id) = world().await;
    deliver(&deps, &[request(&cluster_id, "dec-t", 1)]).await;
    let id = active(&deps).await[0].instance_id.clone();
    for _ in 0..22 {
        deps.clock.advance(15);
        let due: Vec<String> = deps.queue.take_visible(QueueName::ScaleUp).into_iter().map(|m| m.body).collect();
        deliver(&deps, &due).await;
    }
    let all = deps.fleet.describe_managed().await.unwrap();
    let state = all.iter().find(|i| i.instance_id == id).unwrap().state;
    assert!(!state.is_active(), "terminated on moto, now {state:?}");
    assert_eq!(deps.notifier.kinds(), vec!["scaling_failure"]);
}

#[tokio::test]
async fn a_redelivered_request_launches_nothing_twice() {
    let (deps, cluster_id) = world().await;
    let body = request(&cluster_id, "dec-r", 2);
    deliver(&deps, std::slice::from_ref(&body)).await;
    deliver(&deps, &[body]).await;
    assert_eq!(active(&deps).await.len(), 2);
    let lifecycles: Vec<Lifecycle> = active(&deps).await.iter().map(|i| i.lifecycle).collect();
    assert!(lifecycles.iter().all(|l| *l == Lifecycle::OnDemand), "the floor is On-Demand: {lifecycles:?}");
}
