//! Predictive scaling's fields of the state item (the cached model, the pending pre-scale)
//! through DynamoDB on moto_server: written, read back, cleared.

use chrono::{DateTime, Duration, Utc};
use smartscale_aws::DynamoStateStore;
use smartscale_core::forecast::{fit, DemandSample, History, PredictiveConfig};
use smartscale_core::ports::StateStore;
use smartscale_core::state::{CachedForecast, PendingPreScale, StateUpdate};
use smartscale_testbed::moto;

#[tokio::test]
async fn the_cached_model_and_the_pending_pre_scale_round_trip() {
    let sdk = moto::sdk().await;
    let store = DynamoStateStore::new(&sdk, moto::state_table(&sdk).await);
    let now: DateTime<Utc> = "2026-11-23T08:50:00Z".parse().unwrap();
    // 15 days of a daily 09:00–11:00 rush: a real fitted profile, not a hand-made one.
    let start = now - Duration::days(15);
    let samples: Vec<DemandSample> = (0..15 * 288)
        .map(|i| {
            let at = start + Duration::minutes(5 * i);
            let rush = (9..11).contains(&at.format("%H").to_string().parse::<u32>().unwrap());
            DemandSample { at, nodes: if rush { 4.5 } else { 1.2 } }
        })
        .collect();
    let model = fit(&History::from_samples(&samples).unwrap(), now, &PredictiveConfig::default(), 600);
    assert!(model.is_ok(), "{model:?}");
    let cached = CachedForecast { fitted_at: now, lead_s: 600, model };
    let pending = PendingPreScale { at: now, window_at: now + Duration::minutes(10), reactive_nodes: 3, to_nodes: 5 };
    let update = StateUpdate {
        node_count: Some(3),
        forecast_model: Some(cached.clone()),
        pre_scale: Some(Some(pending.clone())),
        ..Default::default()
    };
    store.update("prod", &update).await.unwrap();
    let item = store.get("prod").await.unwrap().unwrap();
    assert_same_model(item.forecast_model.as_ref(), &cached);
    assert_eq!(item.pre_scale.as_ref(), Some(&pending));

    store.update("prod", &StateUpdate { pre_scale: Some(None), ..Default::default() }).await.unwrap();
    let item = store.get("prod").await.unwrap().unwrap();
    assert_eq!(item.pre_scale, None, "cleared");
    assert_same_model(item.forecast_model.as_ref(), &cached);
}

/// serde_json reads some floats back one ulp apart (the back-test scores); what the decider
/// acts on (period, fit time, lead, settings, the slots) must come back exactly.
fn assert_same_model(read: Option<&CachedForecast>, written: &CachedForecast) {
    let read = read.expect("the cached model is read back");
    assert_eq!((read.fitted_at, read.lead_s), (written.fitted_at, written.lead_s));
    let (r, w) = (read.model.as_ref().unwrap(), written.model.as_ref().unwrap());
    assert_eq!((r.period, r.quantile, r.margin_pct, r.cycles), (w.period, w.quantile, w.margin_pct, w.cycles));
    assert_eq!(r.slots, w.slots);
    assert!((r.backtest.predictive.asymmetric_error_pct - w.backtest.predictive.asymmetric_error_pct).abs() < 1e-9);
}
