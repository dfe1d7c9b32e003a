//! HTTP routes: the product API, probes, metrics and the fault knobs.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::rejection::QueryRejection;
use axum::extract::{MatchedPath, Query, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::faults::FaultsPatch;
use crate::metrics::CONTENT_TYPE;
use crate::App;

pub fn router(app: Arc<App>) -> Router {
    let mut router = Router::new()
        .route("/api/products", get(products))
        .route("/health", get(health))
        .route("/ready", get(ready))
        .route_layer(middleware::from_fn_with_state(app.clone(), observe))
        // Scrapes and fault changes are not traffic: counting them would dilute the error
        // rate and the latency the decider reads.
        .route("/metrics", get(metrics));
    if app.admin_token.is_some() {
        router = router.route("/admin/faults", get(get_faults).put(put_faults));
    }
    router.with_state(app)
}

/// Records every routed request by its route template and status.
async fn observe(State(app): State<Arc<App>>, request: Request, next: Next) -> Response {
    let path = request.extensions().get::<MatchedPath>().map(|p| p.as_str().to_string()).unwrap_or_default();
    let started = Instant::now();
    let response = next.run(request).await;
    app.metrics.observe(&path, response.status().as_u16(), started.elapsed().as_secs_f64());
    response
}

#[derive(Debug, Clone, Serialize)]
pub struct Product {
    pub id: u32,
    pub name: &'static str,
    pub price_cents: u32,
}

const CATALOG: [Product; 5] = [
    Product { id: 1, name: "t3.small hoodie", price_cents: 4500 },
    Product { id: 2, name: "Spot interruption mug", price_cents: 1500 },
    Product { id: 3, name: "PodDisruptionBudget poster", price_cents: 2000 },
    Product { id: 4, name: "On-Demand floor mat", price_cents: 3500 },
    Product { id: 5, name: "Drain timeout stopwatch", price_cents: 2500 },
];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProductQuery {
    limit: Option<usize>,
}

async fn products(State(app): State<Arc<App>>, query: Result<Query<ProductQuery>, QueryRejection>) -> Response {
    let query = match query {
        Ok(Query(query)) => query,
        Err(e) => return (StatusCode::BAD_REQUEST, Json(json!({"error": format!("query: {e}")}))).into_response(),
    };
    let faults = app.faults.current();
    if faults.latency_ms > 0 {
        tokio::time::sleep(faults.latency()).await;
    }
    // Every order-page view queues one job (an order event) for the background worker.
    app.queue.enqueue(1.0);
    if app.faults.next_request_fails() {
        return (StatusCode::INTERNAL_SERVER_ERROR, Json(json!({"error": "injected failure"}))).into_response();
    }
    let limit = query.limit.unwrap_or(CATALOG.len()).min(CATALOG.len());
    Json(json!({ "products": &CATALOG[..limit] })).into_response()
}

async fn health() -> &'static str {
    "ok"
}

async fn ready(State(app): State<Arc<App>>) -> Response {
    if app.is_ready() {
        "ready".into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "shutting down").into_response()
    }
}

async fn metrics(State(app): State<Arc<App>>) -> Response {
    ([(header::CONTENT_TYPE, CONTENT_TYPE)], app.metrics.render()).into_response()
}

fn authorized(app: &App, headers: &HeaderMap) -> bool {
    let Some(token) = app.admin_token.as_deref() else { return false };
    let given =
        headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
    // Constant-time compare: the token guards something that costs money (scale-ups).
    given.is_some_and(|g| {
        g.len() == token.len() && g.bytes().zip(token.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
    })
}

async fn get_faults(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    if !authorized(&app, &headers) {
        return unauthorized();
    }
    Json(app.faults.current()).into_response()
}

async fn put_faults(State(app): State<Arc<App>>, headers: HeaderMap, body: String) -> Response {
    if !authorized(&app, &headers) {
        return unauthorized();
    }
    // Names the offending field (`latency_ms`), not just a line and column.
    let patch: FaultsPatch = match smartscale_core::error::from_json_str(&body) {
        Ok(p) => p,
        Err(e) => return (StatusCode::BAD_REQUEST, Json(json!({"error": format!("body: {e}")}))).into_response(),
    };
    match app.faults.apply(&patch) {
        Ok(faults) => {
            tracing::warn!(?faults, "faults changed through /admin/faults");
            Json(faults).into_response()
        }
        Err((field, message)) => {
            (StatusCode::BAD_REQUEST, Json(json!({"error": format!("{field}: {message}"), "field": field})))
                .into_response()
        }
    }
}

fn unauthorized() -> Response {
    (StatusCode::UNAUTHORIZED, [(header::WWW_AUTHENTICATE, "Bearer")], Json(json!({"error": "admin token required"})))
        .into_response()
}
