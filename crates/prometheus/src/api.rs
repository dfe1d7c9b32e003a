//! The Prometheus HTTP API: `/api/v1/query` and `/api/v1/query_range`, with retries.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use smartscale_core::{Error, Result};
use tracing::warn;

use crate::PrometheusConfig;

const SERVICE: &str = "prometheus";

#[derive(Clone)]
pub struct BasicAuth {
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for BasicAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BasicAuth").field("username", &self.username).field("password", &"<redacted>").finish()
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Api {
    http: reqwest::Client,
    url: String,
    auth: Option<BasicAuth>,
    retries: u32,
    backoff: Duration,
}

#[derive(Deserialize)]
struct Response {
    status: String,
    #[serde(default)]
    data: Option<Data>,
    #[serde(default, rename = "errorType")]
    error_type: Option<String>,
    #[serde(default)]
    error: Option<String>,
}

#[derive(Deserialize)]
struct Data {
    #[serde(rename = "resultType")]
    result_type: String,
    result: Vec<Series>,
}

#[derive(Deserialize)]
struct Series {
    #[serde(default)]
    metric: serde_json::Map<String, serde_json::Value>,
    #[serde(default)]
    values: Vec<(f64, String)>,
    #[serde(default)]
    value: Option<(f64, String)>,
}

impl Api {
    pub fn new(config: &PrometheusConfig, auth: Option<BasicAuth>) -> Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            .build()
            .map_err(|e| Error::config("PROMETHEUS_URL", format!("cannot build an HTTP client: {e}")))?;
        Ok(Api { http, url: config.url.clone(), auth, retries: config.retries, backoff: config.backoff })
    }

    /// Points `(unix seconds, value)` of a single-series range query: empty when it has no
    /// series, [`Range::Several`] when it has more than one.
    pub async fn range(
        &self,
        name: &str,
        promql: &str,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        step_s: u32,
    ) -> Result<Range> {
        let params = [
            ("query", promql.to_string()),
            ("start", start.timestamp().to_string()),
            ("end", end.timestamp().to_string()),
            ("step", step_s.to_string()),
        ];
        let data = self.call(name, "query_range", &params).await?;
        expect_type(name, &data, "matrix")?;
        let mut result = data.result;
        if result.len() > 1 {
            return Ok(Range::Several { count: result.len(), first: labels(&result[0]) });
        }
        let points = result
            .pop()
            .map(|series| series.values.iter().filter_map(|(t, v)| finite(v).map(|v| (*t as i64, v))).collect())
            .unwrap_or_default();
        Ok(Range::Points(points))
    }

    /// The value of a single-series instant query at `at`; `None` when it has no series.
    pub async fn instant(&self, name: &str, promql: &str, at: DateTime<Utc>) -> Result<Option<f64>> {
        let params = [("query", promql.to_string()), ("time", at.timestamp().to_string())];
        let data = self.call(name, "query", &params).await?;
        Ok(single_series(name, promql, data, "vector")?.and_then(|s| s.value.and_then(|(_, v)| finite(&v))))
    }

    async fn call(&self, name: &str, endpoint: &str, params: &[(&str, String)]) -> Result<Data> {
        let mut attempt = 0;
        loop {
            match self.call_once(name, endpoint, params).await {
                Err(e) if e.is_transient() && attempt < self.retries => {
                    let pause = self.backoff * 2u32.pow(attempt);
                    attempt += 1;
                    warn!(query = name, attempt, error = %e, "prometheus query failed; retrying in {pause:?}");
                    tokio::time::sleep(pause).await;
                }
                other => return other,
            }
        }
    }

    async fn call_once(&self, name: &str, endpoint: &str, params: &[(&str, String)]) -> Result<Data> {
        let mut request = self.http.get(format!("{}/api/v1/{endpoint}", self.url)).query(params);
        if let Some(auth) = &self.auth {
            request = request.basic_auth(&auth.username, Some(&auth.password));
        }
        let response =
            request.send().await.map_err(|e| Error::unavailable(SERVICE, format!("{name} query: {}", describe(&e))))?;
        let status = response.status();
        let body = response
            .text()
            .await
            .map_err(|e| Error::unavailable(SERVICE, format!("{name} query: reading the response: {e}")))?;
        if status.is_server_error() || status.as_u16() == 429 {
            return Err(Error::unavailable(SERVICE, format!("{name} query: HTTP {status}: {}", truncate(&body))));
        }
        if status.as_u16() == 401 || status.as_u16() == 403 {
            return Err(Error::rejected(
                SERVICE,
                format!("{name} query: HTTP {status}: check the Prometheus credentials"),
            ));
        }
        let parsed: Response = serde_json::from_str(&body).map_err(|e| {
            Error::rejected(SERVICE, format!("{name} query: HTTP {status}, unreadable body ({e}): {}", truncate(&body)))
        })?;
        if parsed.status != "success" {
            return Err(Error::rejected(
                SERVICE,
                format!(
                    "{name} query failed: {}: {}",
                    parsed.error_type.unwrap_or_default(),
                    parsed.error.unwrap_or_default()
                ),
            ));
        }
        parsed.data.ok_or_else(|| Error::rejected(SERVICE, format!("{name} query: success without data")))
    }
}

/// What a range query answered.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Range {
    /// The points of its one series; empty when it returned no series.
    Points(Vec<(i64, f64)>),
    /// It returned `count` series (a missing aggregation): which one to read would be a guess.
    Several { count: usize, first: String },
}

fn expect_type(name: &str, data: &Data, expected: &str) -> Result<()> {
    if data.result_type != expected {
        return Err(Error::rejected(
            SERVICE,
            format!("{name} query returned a {}, expected a {expected}", data.result_type),
        ));
    }
    Ok(())
}

/// A series' labels as PromQL writes them, for messages.
fn labels(series: &Series) -> String {
    let pairs: Vec<String> = series.metric.iter().map(|(k, v)| format!("{k}={}", v)).collect();
    format!("{{{}}}", pairs.join(", "))
}

/// The one series an instant query returned, `None` for none; a query that returns several
/// series is misconfigured (missing aggregation) and is an error rather than a guess.
fn single_series(name: &str, promql: &str, data: Data, expected: &str) -> Result<Option<Series>> {
    expect_type(name, &data, expected)?;
    let mut result = data.result;
    match result.len() {
        0 => Ok(None),
        1 => Ok(result.pop()),
        n => Err(Error::rejected(
            SERVICE,
            format!(
                "{name} query `{promql}` returned {n} series (first: {}); it must aggregate to one",
                labels(&result[0])
            ),
        )),
    }
}

/// Prometheus writes NaN and ±Inf as strings; they mean "no meaningful value".
fn finite(v: &str) -> Option<f64> {
    v.parse::<f64>().ok().filter(|v| v.is_finite())
}

fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        format!("timed out: {e}")
    } else if e.is_connect() {
        format!("cannot connect: {e}")
    } else {
        e.to_string()
    }
}

fn truncate(body: &str) -> &str {
    let end = body.char_indices().nth(300).map(|(i, _)| i).unwrap_or(body.len());
    &body[..end]
}
