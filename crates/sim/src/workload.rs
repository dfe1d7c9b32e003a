//! The built-in synthetic e-commerce week: demand as a share of the week's peak, 0–1, at any
//! instant. Deterministic for a seed.
//!
//! Shape (UTC, the week starting on a Monday):
//! - a night trough around 04:00 at 12 % of peak;
//! - a weekday morning rush peaking at 09:00 (55 %), a lunch plateau, an evening high at 20:00
//!   (65 %);
//! - weekends at 75 % of the weekday curve, with a later, flatter morning;
//! - a Friday flash sale from 20:00 to 22:00 that ramps to 100 % in 10 minutes, holds, and decays;
//! - multiplicative noise of ±5 %, smooth over 5 minutes.

use chrono::{DateTime, Datelike, Timelike, Utc, Weekday};

/// Demand relative to the week's peak at `at`.
pub fn ecommerce_week(at: DateTime<Utc>, seed: u64) -> f64 {
    let hour = f64::from(at.hour()) + f64::from(at.minute()) / 60.0 + f64::from(at.second()) / 3600.0;
    let weekend = matches!(at.weekday(), Weekday::Sat | Weekday::Sun);
    let daily = daily_curve(if weekend { (hour - 1.0).rem_euclid(24.0) } else { hour });
    let mut demand = if weekend { 0.75 * daily } else { daily };
    if at.weekday() == Weekday::Fri {
        demand = demand.max(flash_sale(hour));
    }
    (demand * (1.0 + 0.05 * smooth_noise(at.timestamp(), seed))).clamp(0.0, 1.0)
}

/// The weekday curve: a sum of bumps over a night floor.
fn daily_curve(hour: f64) -> f64 {
    let bump = |centre: f64, width: f64, height: f64| {
        let d = (hour - centre + 12.0).rem_euclid(24.0) - 12.0;
        height * (-(d * d) / (2.0 * width * width)).exp()
    };
    0.12 + bump(9.0, 1.3, 0.36) + bump(12.5, 2.0, 0.30) + bump(20.0, 2.2, 0.53) - bump(4.0, 2.0, 0.02)
}

/// Friday 20:00–22:00: 10-minute ramp to the peak, hold to 21:30, decay by 22:30.
fn flash_sale(hour: f64) -> f64 {
    let minutes = (hour - 20.0) * 60.0;
    match minutes {
        m if !(0.0..150.0).contains(&m) => 0.0,
        m if m < 10.0 => 0.6 + 0.4 * m / 10.0,
        m if m < 90.0 => 1.0,
        m => 1.0 - 0.4 * (m - 90.0) / 60.0,
    }
}

/// Noise in [-1, 1], linearly interpolated between seeded 5-minute knots.
fn smooth_noise(unix_s: i64, seed: u64) -> f64 {
    let knot = unix_s.div_euclid(300);
    let frac = unix_s.rem_euclid(300) as f64 / 300.0;
    let at_knot = |k: i64| {
        (splitmix64(seed ^ (k as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)) as f64 / u64::MAX as f64) * 2.0 - 1.0
    };
    at_knot(knot) * (1.0 - frac) + at_knot(knot + 1) * frac
}

/// SplitMix64: a small, well-mixed deterministic generator (no dependency needed).
pub fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;

    fn monday() -> DateTime<Utc> {
        "2026-11-23T00:00:00Z".parse().unwrap()
    }

    fn at(day: i64, hour: i64, minute: i64) -> DateTime<Utc> {
        monday() + Duration::days(day) + Duration::hours(hour) + Duration::minutes(minute)
    }

    #[test]
    fn the_documented_shape() {
        let d = |day, hour, minute| ecommerce_week(at(day, hour, minute), 7);
        assert!(d(0, 4, 0) < 0.16, "night trough: {}", d(0, 4, 0));
        assert!((0.5..0.62).contains(&d(1, 9, 0)), "9 AM rush: {}", d(1, 9, 0));
        assert!(d(1, 9, 0) > 3.0 * d(1, 4, 0));
        assert!(d(4, 20, 30) > 0.95, "Friday flash sale: {}", d(4, 20, 30));
        assert!(d(3, 20, 30) < 0.75, "no sale on Thursday: {}", d(3, 20, 30));
        assert!(d(5, 20, 0) < d(2, 20, 0), "weekends are quieter");
        let week_peak =
            (0..7 * 24 * 60).map(|m| ecommerce_week(monday() + Duration::minutes(m), 7)).fold(0.0, f64::max);
        assert!(week_peak > 0.99 && week_peak <= 1.0, "{week_peak}");
    }

    #[test]
    fn deterministic_for_a_seed_and_smooth() {
        let t = at(2, 14, 7);
        assert_eq!(ecommerce_week(t, 1), ecommerce_week(t, 1));
        assert_ne!(ecommerce_week(t, 1), ecommerce_week(t, 2));
        let step = (ecommerce_week(t + Duration::seconds(15), 1) - ecommerce_week(t, 1)).abs();
        assert!(step < 0.01, "15 s apart differ by {step}");
    }
}
