//! The forwarder end to end: a real HTTP receiver on loopback stands in for Slack, moto_server
//! holds the webhook secret and carries SNS→SQS.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use lambda_runtime::{Context, LambdaEvent};
use serde_json::{json, Value};
use smartscale_aws::SnsNotifier;
use smartscale_core::config::MapConfig;
use smartscale_core::notification::{Notification, NotificationEvent};
use smartscale_core::ports::Notifier;
use smartscale_slack_forwarder::webhook::WebhookClient;
use smartscale_slack_forwarder::{handle, wiring, Deps, ForwarderConfig, RecordingSlack, RetryBudget, SlackSink};
use smartscale_testbed::moto;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// One request the receiver saw.
#[derive(Debug, Clone)]
struct Seen {
    path: String,
    content_type: String,
    body: Value,
}

/// A minimal HTTP/1.1 receiver: answers each request with the next scripted
/// `(status, extra headers)`, then 200s.
async fn receiver(script: Vec<(u16, Vec<(&'static str, &'static str)>)>) -> (String, Arc<Mutex<Vec<Seen>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        let mut script = script.into_iter();
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            let (head_end, length) = loop {
                let n = socket.read(&mut chunk).await.unwrap_or(0);
                if n == 0 {
                    break (0, 0);
                }
                buf.extend_from_slice(&chunk[..n]);
                if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                    let head = String::from_utf8_lossy(&buf[..pos]).to_lowercase();
                    let length = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .and_then(|v| v.trim().parse().ok())
                        .unwrap_or(0);
                    break (pos + 4, length);
                }
            };
            if head_end == 0 {
                continue;
            }
            while buf.len() < head_end + length {
                let n = socket.read(&mut chunk).await.unwrap_or(0);
                if n == 0 {
                    break;
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
            let path = head.split_whitespace().nth(1).unwrap_or("").to_string();
            let content_type = head
                .lines()
                .find_map(|l| l.to_lowercase().strip_prefix("content-type:").map(|v| v.trim().to_string()))
                .unwrap_or_default();
            let body = serde_json::from_slice(&buf[head_end..head_end + length]).unwrap_or(Value::Null);
            log.lock().unwrap().push(Seen { path, content_type, body });
            let (status, headers) = script.next().unwrap_or((200, vec![]));
            let mut response = format!("HTTP/1.1 {status} X\r\ncontent-length: 2\r\nconnection: close\r\n");
            for (k, v) in headers {
                response.push_str(&format!("{k}: {v}\r\n"));
            }
            response.push_str("\r\nok");
            let _ = socket.write_all(response.as_bytes()).await;
        }
    });
    (format!("http://{addr}/services/T000/B000/s3cr3t-webhook-token"), seen)
}

fn client(url: &str) -> WebhookClient {
    let budget = RetryBudget::new(Duration::from_secs(2), 3, Duration::from_secs(5), Duration::from_secs(60)).unwrap();
    WebhookClient::new(url.to_string(), budget).unwrap()
}

/// A small budget for timing tests: 3 attempts of 300 ms and pauses of at most 1 s.
fn quick_budget() -> RetryBudget {
    RetryBudget::new(Duration::from_millis(300), 2, Duration::from_secs(1), Duration::from_secs(15)).unwrap()
}

fn sns_event(message: &str) -> LambdaEvent<aws_lambda_events::event::sns::SnsEvent> {
    let record = json!({
        "EventSource": "aws:sns", "EventVersion": "1.0",
        "EventSubscriptionArn": "arn:aws:sns:us-east-1:123456789012:smartscale-events:sub",
        "Sns": {
            "Type": "Notification", "MessageId": "95df01b4-ee98-5cb9-9903-4c221d41eb5e",
            "TopicArn": "arn:aws:sns:us-east-1:123456789012:smartscale-events", "Subject": null,
            "Message": message, "Timestamp": "2026-11-23T12:00:00.000Z", "SignatureVersion": "1",
            "Signature": "EXAMPLE", "SigningCertUrl": "https://sns.us-east-1.amazonaws.com/cert.pem",
            "UnsubscribeUrl": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe", "MessageAttributes": {}
        }
    });
    LambdaEvent::new(serde_json::from_value(json!({ "Records": [record] })).unwrap(), Context::default())
}

fn at_max() -> Notification {
    Notification::new(
        "prod",
        "2026-11-23T12:00:00Z".parse().unwrap(),
        NotificationEvent::AtMaxCapacity {
            node_count: 10,
            max_nodes: 10,
            reasons: vec!["cpu 92.0% > 70% for 6m00s".into()],
        },
    )
}

#[tokio::test]
async fn posts_block_kit_json_for_a_notification() {
    let (url, seen) = receiver(vec![]).await;
    let deps = Deps {
        config: ForwarderConfig::from_config(&MapConfig::new().with("DASHBOARD_URL", "https://grafana.example.com"))
            .unwrap(),
        slack: client(&url),
    };
    handle(sns_event(&at_max().encode()), &deps).await.unwrap();
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].path, "/services/T000/B000/s3cr3t-webhook-token");
    assert_eq!(seen[0].content_type, "application/json");
    let body = &seen[0].body;
    assert_eq!(body["text"], "⚠️ At maximum capacity (10 nodes)");
    assert_eq!(body["blocks"][0]["type"], "header");
    assert!(body.to_string().contains("Raise MAX_NODES or optimise the workload"));
    assert_eq!(body["blocks"].as_array().unwrap().last().unwrap()["elements"][0]["url"], "https://grafana.example.com");
}

#[tokio::test]
async fn a_cloudwatch_alarm_becomes_a_message() {
    let slack = RecordingSlack::default();
    let deps = Deps { config: ForwarderConfig::from_config(&MapConfig::new()).unwrap(), slack: slack.clone() };
    let alarm = json!({"AlarmName": "smartscale-decider-errors", "NewStateValue": "ALARM", "OldStateValue": "OK",
                       "NewStateReason": "Threshold Crossed", "StateChangeTime": "2026-11-23T12:00:00.000+0000", "Region": "US East (N. Virginia)"});
    handle(sns_event(&alarm.to_string()), &deps).await.unwrap();
    assert_eq!(slack.messages()[0]["text"], "🔴 CloudWatch alarm ALARM: smartscale-decider-errors");
}

#[tokio::test]
async fn retries_a_429_after_its_retry_after() {
    let (url, seen) = receiver(vec![(429, vec![("retry-after", "1")])]).await;
    let started = Instant::now();
    client(&url).post(&json!({"text": "hello"})).await.unwrap();
    assert!(started.elapsed() >= Duration::from_secs(1), "Retry-After was not honoured: {:?}", started.elapsed());
    assert_eq!(seen.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn gives_up_after_bounded_retries_and_fails_the_record() {
    let (url, seen) = receiver(vec![(500, vec![]), (502, vec![]), (503, vec![]), (500, vec![])]).await;
    let deps = Deps { config: ForwarderConfig::from_config(&MapConfig::new()).unwrap(), slack: client(&url) };
    let err = handle(sns_event(&at_max().encode()), &deps).await.unwrap_err();
    assert!(err.to_string().contains("after 4 attempts"), "{err}");
    assert_eq!(seen.lock().unwrap().len(), 4);
    // A 4xx other than 429 is not retried.
    let (url, seen) = receiver(vec![(400, vec![])]).await;
    let err = client(&url).post(&json!({"text": "x"})).await.unwrap_err();
    assert!(err.to_string().contains("HTTP 400"), "{err}");
    assert_eq!(seen.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn an_unparseable_message_fails_clearly() {
    let deps =
        Deps { config: ForwarderConfig::from_config(&MapConfig::new()).unwrap(), slack: RecordingSlack::default() };
    let err = handle(sns_event("not json"), &deps).await.unwrap_err();
    assert!(err.to_string().contains("Sns.Message"), "{err}");
    let err = handle(sns_event(r#"{"version":7,"kind":"scale_up_started"}"#), &deps).await.unwrap_err();
    assert!(err.to_string().contains("version 7"), "{err}");
}

/// A `Write` that appends to a shared buffer, for capturing logs.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn the_webhook_url_never_reaches_logs_or_errors() {
    let logs = Captured::default();
    let writer = logs.clone();
    let subscriber =
        tracing_subscriber::fmt().with_writer(move || writer.clone()).with_max_level(tracing::Level::TRACE).finish();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let err = tracing::subscriber::with_default(subscriber, || {
        runtime.block_on(async {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let port = listener.local_addr().unwrap().port();
            drop(listener);
            let url = format!("http://127.0.0.1:{port}/services/T000/B000/s3cr3t-webhook-token");
            let budget =
                RetryBudget::new(Duration::from_millis(200), 2, Duration::from_millis(50), Duration::from_secs(60))
                    .unwrap();
            let slack = WebhookClient::new(url, budget).unwrap();
            let deps = Deps { config: ForwarderConfig::from_config(&MapConfig::new()).unwrap(), slack };
            tracing::info!(debug = ?deps.slack, "client");
            handle(sns_event(&at_max().encode()), &deps).await.unwrap_err()
        })
    });
    let logs = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("Slack delivery failed; retrying"), "the retries were logged: {logs}");
    for text in [logs.as_str(), &err.to_string(), &format!("{err:?}")] {
        assert!(!text.contains("s3cr3t-webhook-token"), "the webhook URL leaked: {text}");
    }
}

#[tokio::test]
async fn the_webhook_secret_is_read_from_secrets_manager() {
    let sdk = moto::sdk().await;
    let (url, seen) = receiver(vec![]).await;
    let plain = moto::secret(&sdk, &url).await;
    let as_json = moto::secret(&sdk, &json!({"url": url}).to_string()).await;
    for secret in [plain, as_json] {
        let source = MapConfig::new().with("SLACK_WEBHOOK_SECRET_ID", &secret).with("SLACK_FUNCTION_TIMEOUT_S", "60");
        let deps = wiring::aws_deps(&sdk, &source).await.unwrap();
        handle(sns_event(&at_max().encode()), &deps).await.unwrap();
    }
    assert_eq!(seen.lock().unwrap().len(), 2);
    let not_a_url = moto::secret(&sdk, "hunter2").await;
    let source = MapConfig::new().with("SLACK_WEBHOOK_SECRET_ID", &not_a_url).with("SLACK_FUNCTION_TIMEOUT_S", "60");
    let err = wiring::aws_deps(&sdk, &source).await.unwrap_err();
    assert!(!err.to_string().contains("hunter2"), "{err}");
    // A retry budget over the function's timeout is refused at cold start, naming the figures.
    let source = source.with("SLACK_MAX_WAIT_S", "20");
    let err = wiring::aws_deps(&sdk, &source).await.unwrap_err();
    assert!(err.to_string().contains("SLACK_MAX_RETRIES") && err.to_string().contains("is 80 s"), "{err}");
}

#[tokio::test]
async fn a_notification_published_to_sns_reaches_slack_through_sqs() {
    let sdk = moto::sdk().await;
    let (topic_arn, queue_url) = topic_without_raw_delivery(&sdk).await;
    let published = Notification::new(
        "prod",
        Utc::now(),
        NotificationEvent::ScaleDownCompleted {
            decision_id: "dec-7".into(),
            node: "ip-10-0-11-9".into(),
            instance_id: "i-0a1b2c3d4e5f60718".into(),
            reason: "cpu 12.0% < 30% for 10m30s".into(),
            new_total: 4,
        },
    );
    SnsNotifier::new(&sdk, &topic_arn).publish(&published).await.unwrap();
    let received = moto::receive_all(&sdk, &queue_url).await;
    assert_eq!(received.len(), 1);
    // The SQS body is SNS's envelope: the same shape Lambda's SNS event carries in `Sns`.
    let envelope: Value = serde_json::from_str(&received[0].body).unwrap();
    assert_eq!(envelope["Type"], "Notification");
    let slack = RecordingSlack::default();
    let deps = Deps { config: ForwarderConfig::from_config(&MapConfig::new()).unwrap(), slack: slack.clone() };
    handle(sns_event(envelope["Message"].as_str().unwrap()), &deps).await.unwrap();
    let message = &slack.messages()[0];
    assert_eq!(message["text"], "🔵 Scale-down completed: −1 node");
    assert!(message.to_string().contains("Removed `ip-10-0-11-9` (`i-0a1b2c3d4e5f60718`)"));
}

async fn topic_without_raw_delivery(sdk: &aws_config::SdkConfig) -> (String, String) {
    let sns = aws_sdk_sns::Client::new(sdk);
    let sqs = aws_sdk_sqs::Client::new(sdk);
    let topic_arn = sns
        .create_topic()
        .name(smartscale_testbed::unique("events"))
        .send()
        .await
        .unwrap()
        .topic_arn()
        .unwrap()
        .to_string();
    let queue_url = sqs
        .create_queue()
        .queue_name(smartscale_testbed::unique("slack"))
        .send()
        .await
        .unwrap()
        .queue_url()
        .unwrap()
        .to_string();
    let arn = sqs
        .get_queue_attributes()
        .queue_url(&queue_url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes()
        .unwrap()[&aws_sdk_sqs::types::QueueAttributeName::QueueArn]
        .clone();
    sns.subscribe().topic_arn(&topic_arn).protocol("sqs").endpoint(arn).send().await.unwrap();
    (topic_arn, queue_url)
}

#[tokio::test]
async fn a_retry_after_beyond_the_budget_fails_at_once() {
    let (url, seen) = receiver(vec![(429, vec![("retry-after", "30")])]).await;
    let started = Instant::now();
    let err = client(&url).post(&json!({"text": "x"})).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(2), "it did not wait 30 s: {:?}", started.elapsed());
    assert!(err.to_string().contains("Retry-After 30s") && err.is_transient(), "{err}");
    assert_eq!(seen.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn a_failing_webhook_gives_up_within_the_worst_case() {
    // Every answer a 503 asking for the longest allowed wait.
    let (url, seen) = receiver(vec![(503, vec![("retry-after", "1")]); 10]).await;
    let budget = quick_budget();
    let started = Instant::now();
    let err = WebhookClient::new(url, budget).unwrap().post(&json!({"text": "x"})).await.unwrap_err();
    let took = started.elapsed();
    assert!(err.to_string().contains("after 3 attempts"), "{err}");
    assert_eq!(seen.lock().unwrap().len(), 3);
    assert!(took >= Duration::from_secs(2), "both pauses were taken: {took:?}");
    assert!(took <= budget.worst_case().unwrap(), "{took:?} > {:?}", budget.worst_case());
}

#[tokio::test]
async fn a_webhook_that_never_answers_is_bounded_by_the_attempt_timeout() {
    // Accepts connections and reads, never answers: each attempt ends at its timeout.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let budget = quick_budget();
    let started = Instant::now();
    let err = WebhookClient::new(url, budget).unwrap().post(&json!({"text": "x"})).await.unwrap_err();
    let took = started.elapsed();
    assert!(err.to_string().contains("after 3 attempts"), "{err}");
    assert!(took >= Duration::from_millis(900), "three attempts timed out: {took:?}");
    assert!(took <= budget.worst_case().unwrap(), "{took:?} > {:?}", budget.worst_case());
}

/// The template's function timeout and the environment it gives the forwarder: the budget the
/// Lambda checks at cold start is the one that holds in production.
#[test]
fn the_templates_forwarder_settings_fit_its_timeout() {
    let path = format!("{}/../../infra/template.yaml", env!("CARGO_MANIFEST_DIR"));
    let template = std::fs::read_to_string(&path).unwrap();
    let block: Vec<&str> = template
        .lines()
        .skip_while(|l| l.trim_end() != "  SlackForwarderFunction:")
        .skip(1)
        .take_while(|l| l.is_empty() || l.starts_with("   "))
        .collect();
    assert!(!block.is_empty(), "SlackForwarderFunction in {path}");
    let value = |key: &str| {
        block
            .iter()
            .find_map(|l| l.trim().strip_prefix(&format!("{key}:")).map(|v| v.trim().trim_matches('"').to_string()))
    };
    let timeout = value("Timeout").expect("the function's Timeout");
    let mut source = MapConfig::new();
    for key in ["SLACK_FUNCTION_TIMEOUT_S", "SLACK_TIMEOUT_S", "SLACK_MAX_RETRIES", "SLACK_MAX_WAIT_S"] {
        if let Some(v) = value(key) {
            source = source.with(key, v);
        }
    }
    assert_eq!(value("SLACK_FUNCTION_TIMEOUT_S").as_deref(), Some(timeout.as_str()), "the env states the Timeout");
    let budget = RetryBudget::from_config(&source).unwrap();
    let timeout = Duration::from_secs(timeout.parse().unwrap());
    assert!(budget.worst_case().unwrap() + smartscale_slack_forwarder::MARGIN <= timeout, "{budget:?}");
}
