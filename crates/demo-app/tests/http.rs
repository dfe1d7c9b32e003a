//! The demo app over real HTTP on loopback: routes, probes, metrics and the fault knobs.

use std::sync::Arc;
use std::time::{Duration, Instant};

use smartscale_core::config::MapConfig;
use smartscale_core::Error as CoreError;
use smartscale_demo_app::{serve, App, DemoConfig, Error, Faults};

const TOKEN: &str = "test-admin-token-0123";

struct Server {
    url: String,
    app: Arc<App>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

async fn start(config: MapConfig) -> Server {
    let config = DemoConfig::from_config(&config.with("DEMO_LISTEN_ADDR", "127.0.0.1:0")).unwrap();
    let listener = tokio::net::TcpListener::bind(config.listen).await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let app = App::new(&config);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(serve(listener, app.clone(), async move {
        let _ = stopped.await;
    }));
    Server { url, app, stop: Some(stop) }
}

async fn get(url: &str) -> (u16, String) {
    let r = reqwest::get(url).await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

fn admin(method: reqwest::Method, url: &str) -> reqwest::RequestBuilder {
    reqwest::Client::new().request(method, format!("{url}/admin/faults")).bearer_auth(TOKEN)
}

/// The value of one exposition line, by its exact series name and labels.
fn series(text: &str, name_and_labels: &str) -> Option<f64> {
    text.lines().find_map(|l| l.strip_prefix(name_and_labels)?.strip_prefix(' ')?.parse().ok())
}

#[tokio::test]
async fn products_health_and_ready_answer_and_are_counted_by_route_and_status() {
    let s = start(MapConfig::new()).await;
    let (status, body) = get(&format!("{}/api/products?limit=2", s.url)).await;
    assert_eq!(status, 200);
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["products"].as_array().unwrap().len(), 2, "{body}");
    assert_eq!(get(&format!("{}/api/products?limit=two", s.url)).await.0, 400);
    assert_eq!(get(&format!("{}/health", s.url)).await, (200, "ok".into()));
    assert_eq!(get(&format!("{}/ready", s.url)).await, (200, "ready".into()));
    assert_eq!(get(&format!("{}/nowhere", s.url)).await.0, 404);

    let r = reqwest::get(format!("{}/metrics", s.url)).await.unwrap();
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("application/openmetrics-text"));
    let text = r.text().await.unwrap();
    assert_eq!(series(&text, r#"http_requests_total{path="/api/products",status="200"}"#), Some(1.0), "{text}");
    assert_eq!(series(&text, r#"http_requests_total{path="/api/products",status="400"}"#), Some(1.0), "{text}");
    assert_eq!(series(&text, r#"http_requests_total{path="/health",status="200"}"#), Some(1.0), "{text}");
    assert!(series(&text, r#"http_request_duration_seconds_count{path="/ready",status="200"}"#).is_some(), "{text}");
    assert!(!text.contains(r#"path="/metrics""#), "scrapes are not traffic: {text}");
    assert!(!text.contains("/nowhere"), "unmatched paths must not create series: {text}");
    assert!(series(&text, "app_queue_depth").is_some(), "{text}");

    s.app.set_ready(false);
    assert_eq!(get(&format!("{}/ready", s.url)).await.0, 503);
    assert_eq!(get(&format!("{}/health", s.url)).await.0, 200, "alive while draining");
}

#[tokio::test]
async fn injected_latency_and_errors_show_in_the_responses_and_the_histogram() {
    let s = start(MapConfig::new().with("DEMO_LATENCY_MS", "300").with("DEMO_ERROR_SHARE", "0.5")).await;
    let started = Instant::now();
    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(get(&format!("{}/api/products", s.url)).await.0);
    }
    assert!(started.elapsed() >= Duration::from_millis(1200), "latency not injected: {:?}", started.elapsed());
    statuses.sort();
    assert_eq!(statuses, vec![200, 200, 500, 500]);
    let text = get(&format!("{}/metrics", s.url)).await.1;
    let slow = r#"http_request_duration_seconds_bucket{le="0.25",path="/api/products",status="500"}"#;
    let all = r#"http_request_duration_seconds_bucket{le="0.5",path="/api/products",status="500"}"#;
    assert_eq!((series(&text, slow), series(&text, all)), (Some(0.0), Some(2.0)), "{text}");
}

#[tokio::test]
async fn queue_growth_raises_the_depth_gauge() {
    let s = start(MapConfig::new().with("DEMO_QUEUE_GROWTH_PER_S", "5050").with("DEMO_QUEUE_DRAIN_PER_S", "50")).await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    let depth = series(&get(&format!("{}/metrics", s.url)).await.1, "app_queue_depth").unwrap();
    // 5000 jobs/s net for about 0.6 s of ticks.
    assert!((1500.0..=5000.0).contains(&depth), "depth {depth}");
}

#[tokio::test]
async fn the_admin_endpoint_needs_the_token_and_validates_each_field() {
    let s = start(MapConfig::new().with("DEMO_ADMIN_TOKEN", TOKEN)).await;
    let anonymous = reqwest::Client::new().put(format!("{}/admin/faults", s.url)).body("{}").send().await.unwrap();
    assert_eq!(anonymous.status().as_u16(), 401);
    let wrong = reqwest::Client::new()
        .put(format!("{}/admin/faults", s.url))
        .bearer_auth("test-admin-token-0124")
        .body(r#"{"latency_ms": 5}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status().as_u16(), 401);

    let set =
        admin(reqwest::Method::PUT, &s.url).body(r#"{"latency_ms": 2500, "error_share": 0.2}"#).send().await.unwrap();
    assert_eq!(set.status().as_u16(), 200);
    let faults: Faults = serde_json::from_str(&set.text().await.unwrap()).unwrap();
    assert_eq!(faults, Faults { latency_ms: 2500, error_share: 0.2, queue_growth_per_s: 0.0 });
    assert_eq!(s.app.faults.current(), faults);

    for (body, named) in [
        (r#"{"error_share": 2}"#, "error_share"),
        (r#"{"latency_ms": -1}"#, "latency_ms"),
        (r#"{"latency": 5}"#, "latency"),
        ("not json", "body"),
    ] {
        let r = admin(reqwest::Method::PUT, &s.url).body(body).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 400, "{body}");
        let text = r.text().await.unwrap();
        assert!(text.contains(named), "{body}: {text}");
    }
    let get_back = admin(reqwest::Method::GET, &s.url).send().await.unwrap().text().await.unwrap();
    assert_eq!(serde_json::from_str::<Faults>(&get_back).unwrap(), faults, "a refused patch changes nothing");
    let text = get(&format!("{}/metrics", s.url)).await.1;
    assert!(!text.contains("/admin"), "admin calls are not traffic: {text}");

    // Without a token the admin routes do not exist.
    let open = start(MapConfig::new()).await;
    assert_eq!(get(&format!("{}/admin/faults", open.url)).await.0, 404);
}

#[test]
fn configuration_errors_name_the_variable() {
    for (key, value) in [
        ("DEMO_LISTEN_ADDR", "8080"),
        ("DEMO_LATENCY_MS", "fast"),
        ("DEMO_LATENCY_MS", "70000"),
        ("DEMO_ERROR_SHARE", "5"),
        ("DEMO_QUEUE_GROWTH_PER_S", "-3"),
        ("DEMO_QUEUE_DRAIN_PER_S", "inf"),
        ("DEMO_ADMIN_TOKEN", "short"),
        ("DEMO_SHUTDOWN_GRACE_S", "600"),
    ] {
        match DemoConfig::from_config(&MapConfig::new().with(key, value)) {
            Err(Error::Config(CoreError::Config { var, .. })) => assert_eq!(var, key, "{key}={value}"),
            other => panic!("{key}={value}: expected a config error naming it, got {other:?}"),
        }
    }
    let defaults = DemoConfig::from_config(&MapConfig::new()).unwrap();
    assert_eq!(defaults.listen.to_string(), "0.0.0.0:8080");
    assert_eq!(defaults.faults, Faults::default());
    assert_eq!(defaults.admin_token, None);
}
