//! Worker wiring against moto_server: the kubeconfig comes from Secrets Manager, and every
//! missing or bad variable is named.

use smartscale_core::config::MapConfig;
use smartscale_core::fakes::{FakeClock, FakeMetricsSink};
use smartscale_core::Error;
use smartscale_testbed::moto;
use smartscale_wiring::worker_deps;

const KUBECONFIG: &str = "apiVersion: v1
kind: Config
clusters:
- name: default
  cluster:
    server: https://127.0.0.1:6443
    insecure-skip-tls-verify: true
contexts:
- name: default
  context: {cluster: default, user: default}
current-context: default
users:
- name: default
  user: {token: not-a-real-token}
";

async fn config(kubeconfig_secret: &str) -> MapConfig {
    MapConfig::new()
        .with("DYNAMODB_TABLE", "smartscale-state")
        .with("SCALE_UP_QUEUE_URL", "http://127.0.0.1:1/123456789012/up")
        .with("DRAIN_QUEUE_URL", "http://127.0.0.1:1/123456789012/drain")
        .with("SNS_TOPIC_ARN", "arn:aws:sns:us-east-1:123456789012:events")
        .with("K3S_KUBECONFIG_SECRET_ID", kubeconfig_secret)
}

async fn wire(source: &MapConfig) -> Result<(), Error> {
    let sdk = moto::sdk().await;
    let clock = FakeClock::new("2026-11-23T12:00:00Z".parse().unwrap());
    worker_deps(&sdk, source, (), "prod", None, clock, FakeMetricsSink::new()).await.map(|_| ())
}

#[tokio::test]
async fn wires_from_a_kubeconfig_secret_and_names_what_is_wrong() {
    let sdk = moto::sdk().await;
    let good = moto::secret(&sdk, KUBECONFIG).await;
    wire(&config(&good).await).await.expect("wires");

    let bad = moto::secret(&sdk, "this is not yaml: [").await;
    let missing = config(&good).await.with("K3S_KUBECONFIG_SECRET_ID", "");
    let no_topic = config(&good).await.with("SNS_TOPIC_ARN", "events");
    for (source, var) in [
        (config(&bad).await, "K3S_KUBECONFIG_SECRET_ID"),
        (missing, "K3S_KUBECONFIG_SECRET_ID"),
        (no_topic, "SNS_TOPIC_ARN"),
    ] {
        match wire(&source).await {
            Err(Error::Config { var: got, message }) => {
                assert_eq!(got, var, "{message}");
                assert!(!message.contains("not-a-real-token"), "credentials never appear in errors");
            }
            other => panic!("{var}: {other:?}"),
        }
    }
    let err = wire(&config("no-such-secret").await).await.unwrap_err();
    assert!(matches!(err, Error::Rejected { .. }), "{err}");
}
