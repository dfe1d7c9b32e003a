//! The seasonal profile: for each 5-minute slot of the next cycle, a high quantile (or the max)
//! of the same slot over the past cycles, plus a margin. The period (daily, daily by kind of
//! day, or weekly) is the one that back-tests better on the last cycle, and the profile is kept
//! only if acting on it beats the reactive stand-in there: otherwise there is no pattern and no
//! forecast.

use chrono::{DateTime, Datelike, Duration, Utc, Weekday};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use super::config::{PredictiveConfig, Quantile};
use super::history::{slot_start, History, STEP_S};
use super::score::{lead_slots, reactive_capacity, Score, Scorer};

/// A cycle counts as whole when at least this share of its slots hold a sample.
pub const WHOLE_CYCLE_COVERAGE: f64 = 0.8;
/// The seasonal profile must lower the last cycle's asymmetric error by at least this share
/// against itself read out of phase (and avoid some under-provisioning) to count as a
/// pattern; a weekly profile must beat the daily one by as much to be chosen.
pub const MIN_RELATIVE_GAIN: f64 = 0.05;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Period {
    Daily,
    /// Daily, each slot read from past days of its own kind only: weekdays from weekdays,
    /// Saturdays and Sundays from weekend days (in the scheduled floors' time zone), by the same
    /// rules as the plain daily profile. A kind of day the history does not hold yet has no
    /// forecast: a first weekend is not forecast from five weekdays' rush hours.
    #[serde(rename = "weekday-weekend")]
    DayKind,
    Weekly,
}

impl Period {
    /// In the order the fit tries them: a later one must do better than the one chosen before it.
    pub const ALL: [Period; 3] = [Period::Daily, Period::DayKind, Period::Weekly];

    pub fn days(self) -> u32 {
        match self {
            Period::Daily | Period::DayKind => 1,
            Period::Weekly => 7,
        }
    }

    pub fn slots(self) -> i64 {
        i64::from(self.days()) * 86_400 / STEP_S
    }

    pub fn duration(self) -> Duration {
        Duration::days(i64::from(self.days()))
    }

    pub fn label(self) -> &'static str {
        match self {
            Period::Daily => "daily",
            Period::DayKind => "weekday/weekend",
            Period::Weekly => "weekly",
        }
    }
}

/// Whether `at` falls on a Saturday or a Sunday in `tz`.
fn is_weekend(at: DateTime<Utc>, tz: Tz) -> bool {
    matches!(at.with_timezone(&tz).weekday(), Weekday::Sat | Weekday::Sun)
}

/// Why there is no forecast. Predictive scaling then stays reactive.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "kebab-case")]
pub enum NoForecast {
    /// Fewer than two whole cycles of even the daily period.
    NotEnoughHistory { history_days: f64, whole_days: u32 },
    /// On the last cycle the profile avoided no shortfall, or did no better read out of phase
    /// (the best of [`OUT_OF_PHASE_SHIFTS`]): the demand has no daily or weekly shape to act on.
    NoPattern { period: Period, backtest: Score, out_of_phase: Score },
    /// The demand history could not be read (and no cached model was fresh enough).
    HistoryUnavailable { error: String },
}

impl std::fmt::Display for NoForecast {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NoForecast::NotEnoughHistory { history_days, whole_days } => write!(
                f,
                "no forecast: {history_days:.1} days of history ({whole_days} whole), need two whole cycles \
                 (2 days for a daily profile, 14 for weekly)"
            ),
            NoForecast::NoPattern { period, backtest, out_of_phase } => write!(
                f,
                "no pattern: over the last {:.0} h the best ({}) profile's asymmetric error is {:.1} % against {:.1} % \
                 read out of phase and {:.1} % for reactive alone ({:.0} under-provisioned node-minutes avoided, \
                 {:.1} node-hours added)",
                backtest.hours,
                period.label(),
                backtest.predictive.asymmetric_error_pct,
                out_of_phase.predictive.asymmetric_error_pct,
                backtest.reactive.asymmetric_error_pct,
                backtest.avoided_node_minutes,
                backtest.added_node_hours
            ),
            NoForecast::HistoryUnavailable { error } => write!(f, "no forecast (history unavailable: {error})"),
        }
    }
}

/// A fitted profile, valid for one period from `fitted_at`; small enough to cache in the state
/// item (288 or 2016 numbers) and refresh every few hours.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Model {
    pub period: Period,
    pub fitted_at: DateTime<Utc>,
    pub quantile: Quantile,
    pub margin_pct: f64,
    /// Past cycles each slot reads (at most).
    pub cycles: u32,
    pub lead_s: u32,
    /// The forecast demand in nodes (quantile plus margin) of each slot of `[fitted_at, fitted_at + period)`.
    /// Shared: the model is cached in the state item, which every decider run reads.
    pub slots: std::sync::Arc<[Option<f64>]>,
    /// The chosen period's back-test on the last cycle, and the other candidate's when it had the history.
    pub backtest: Score,
    pub other: Option<(Period, Score)>,
    /// The same profile read out of phase (the best of [`OUT_OF_PHASE_SHIFTS`]), on the same slots:
    /// the yardstick it beat.
    pub out_of_phase: Score,
}

impl Model {
    /// The forecast demand in the slot holding `at`, `None` outside the model's cycle or in a slot
    /// with too little history.
    pub fn at(&self, at: DateTime<Utc>) -> Option<f64> {
        let i = (at - self.fitted_at).num_seconds().div_euclid(STEP_S);
        usize::try_from(i).ok().and_then(|i| self.slots.get(i).copied().flatten())
    }

    /// The highest forecast need, in whole nodes, over `[now, now + lead]`, and the slot it is for.
    pub fn need(&self, now: DateTime<Utc>, lead_s: u32) -> Option<(u32, DateTime<Utc>)> {
        let first = slot_start(now);
        (0..=lead_slots(lead_s))
            .map(|k| first + Duration::seconds(k * STEP_S))
            .filter_map(|t| self.at(t).map(|v| (whole_nodes(v), t)))
            .fold(None, |best: Option<(u32, DateTime<Utc>)>, (n, t)| match best {
                Some((b, _)) if b >= n => best,
                _ => Some((n, t)),
            })
    }

    /// How far from `now` (at most `cap_s`) every slot has a forecast: the span the profile
    /// can speak for, from the slot holding `now` on.
    pub fn known_ahead_s(&self, now: DateTime<Utc>, cap_s: u32) -> u32 {
        let first = slot_start(now);
        let known = (0..=i64::from(cap_s) / STEP_S)
            .take_while(|k| self.at(first + Duration::seconds(k * STEP_S)).is_some())
            .count() as i64;
        // Slot k known means the forecast reaches the end of slot k, measured from now.
        let reach = (first + Duration::seconds(known * STEP_S) - now).num_seconds();
        reach.clamp(0, i64::from(cap_s)) as u32
    }

    /// "daily profile, p90 of 14 days + 10 %".
    pub fn describe(&self) -> String {
        let (label, q, n) = (self.period.label(), self.quantile.label(), self.cycles);
        let over = match self.period {
            Period::Daily => format!("{n} days"),
            Period::DayKind => format!("the days of the same kind in {n}"),
            Period::Weekly => format!("{n} weeks"),
        };
        format!("{label} profile, {q} of {over} + {} %", self.margin_pct)
    }
}

/// Whole nodes for a demand, ignoring float dust (2.0000000001 is 2).
pub fn whole_nodes(demand: f64) -> u32 {
    (demand - 1e-9).ceil().max(0.0) as u32
}

/// The forecast of slot `i` of `h`: the quantile of slots `i - k·period` (k = 1..=cycles) plus the
/// margin; `None` when fewer than half of those within the history (at least one) are known.
fn slot_forecast(
    h: &History,
    i: i64,
    period: Period,
    cycles: u32,
    config: &PredictiveConfig,
    buf: &mut Vec<f64>,
) -> Option<f64> {
    shifted_slot_forecast(h, i, period, cycles, 0, config, buf)
}

/// As [`slot_forecast`], reading the slots `shift` slots earlier than the same phase.
fn shifted_slot_forecast(
    h: &History,
    i: i64,
    period: Period,
    cycles: u32,
    shift: i64,
    config: &PredictiveConfig,
    buf: &mut Vec<f64>,
) -> Option<f64> {
    buf.clear();
    let mut expected = 0;
    for j in reference_slots(h, i, period, cycles, config).map(|j| j - shift).filter(|&j| j >= 0) {
        expected += 1;
        buf.extend(h.get(j));
    }
    if buf.is_empty() || buf.len() * 2 < expected {
        return None;
    }
    Some(quantile(buf, config.quantile) * (1.0 + config.margin_pct / 100.0))
}

/// The slots of the history that slot `i`'s forecast reads, in phase: the same slot of each of the
/// last `cycles` cycles, of the same kind of day for [`Period::DayKind`].
fn reference_slots<'h>(
    h: &'h History,
    i: i64,
    period: Period,
    cycles: u32,
    config: &PredictiveConfig,
) -> impl Iterator<Item = i64> + 'h {
    let tz = config.floors.tz();
    let time_of = move |j: i64| h.start() + Duration::seconds(j * STEP_S);
    let weekend = period == Period::DayKind && is_weekend(time_of(i), tz);
    (1..=i64::from(cycles))
        .map(move |k| i - k * period.slots())
        .filter(|&j| j >= 0)
        .filter(move |&j| period != Period::DayKind || is_weekend(time_of(j), tz) == weekend)
}

/// Linear interpolation between closest ranks (numpy's default); `values` is reordered.
fn quantile(values: &mut [f64], q: Quantile) -> f64 {
    values.sort_unstable_by(f64::total_cmp);
    let pos = q.value() * (values.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    values[lo] + (values[hi] - values[lo]) * (pos - lo as f64)
}

/// Whole cycles of `period` counted back from `now` while each is covered enough.
fn whole_cycles(h: &History, now: DateTime<Utc>, period: Period) -> u32 {
    let mut n = 0;
    while h.coverage(now - period.duration() * (n as i32 + 1), now - period.duration() * n as i32)
        >= WHOLE_CYCLE_COVERAGE
    {
        n += 1;
    }
    n
}

/// Back-tests `period` on the slots of `[from, to)`: each slot forecast from the cycles before it,
/// acting as max(reactive, forecast) with the pre-scale for the next lead time paid for.
pub fn backtest(
    h: &History,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    period: Period,
    cycles: u32,
    config: &PredictiveConfig,
    lead_s: u32,
) -> Score {
    let mut buf = Vec::with_capacity(cycles as usize);
    score_needs(h, from, to, lead_s, |i| slot_forecast(h, i, period, cycles, config, &mut buf))
}

/// The non-seasonal yardstick: the same profile read out of phase, by each of
/// [`OUT_OF_PHASE_SHIFTS`], and the best of those readings. Where the demand has a daily or
/// weekly shape, the profile in phase does clearly better than every one of them; where it does
/// not (bursts, drift, noise), some wrong hours do as well, and what the profile found is a
/// buffer of high values, not a pattern. One shift alone is a coin toss on noise: on a few days
/// of random bursts, one reading out of phase may happen to miss more of them than the profile.
pub fn out_of_phase_backtest(
    h: &History,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    period: Period,
    cycles: u32,
    config: &PredictiveConfig,
    lead_s: u32,
) -> Score {
    let mut buf = Vec::with_capacity(cycles as usize);
    OUT_OF_PHASE_SHIFTS
        .iter()
        .map(|&shift| {
            score_needs(h, from, to, lead_s, |i| shifted_slot_forecast(h, i, period, cycles, shift, config, &mut buf))
        })
        .min_by(|a, b| a.predictive.asymmetric_error_pct.total_cmp(&b.predictive.asymmetric_error_pct))
        .expect("at least one shift")
}

/// The out-of-phase shifts, in slots: seven, from 5 h 35 min to 18 h 55 min, each at least
/// 5 h from the same phase of the next day either way. Each a prime number of slots, so a
/// multiple of no shorter period a load may repeat on: shifted by exactly 12 h, a spike every
/// hour (or every 2, 3, 4 or 6 hours) would land on itself, score as well out of phase as in
/// phase, and be refused as no pattern.
pub const OUT_OF_PHASE_SHIFTS: [i64; 7] = [67, 97, 127, 149, 173, 199, 227];

fn score_needs(
    h: &History,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    lead_s: u32,
    mut forecast: impl FnMut(i64) -> Option<f64>,
) -> Score {
    let lead = lead_slots(lead_s);
    let (a, b) = (h.index_of(from), h.index_of(to));
    // The forecast need of each slot from a to b + lead, computed once.
    let need: Vec<Option<f64>> = (a..b + lead).map(|i| forecast(i).map(|v| f64::from(whole_nodes(v)))).collect();
    let mut scorer = Scorer::default();
    for i in a..b {
        let (Some(demand), Some(reactive)) = (h.get(i), reactive_capacity(h, i, lead)) else { continue };
        let k = (i - a) as usize;
        let paid = need[k..=k + lead as usize].iter().flatten().copied().reduce(f64::max);
        scorer.add(demand, reactive, need[k].map(|ready| (ready, paid.unwrap_or(ready))).or(paid.map(|p| (0.0, p))));
    }
    scorer.score()
}

/// Whether the daily profile by kind of day is chosen over the plain daily one, given their
/// scores on the slots every candidate is scored on. Once the history holds a week, the two are
/// compared over the last week instead, so that a weekend is among the slots: on two weekdays
/// they are one profile. The better one wins; on a tie, the split does while some slot of the
/// next day is of a kind the history does not hold yet, which the plain profile would forecast
/// from the other kind.
fn day_kind_wins(
    h: &History,
    now: DateTime<Utc>,
    daily: Score,
    day_kind: Score,
    config: &PredictiveConfig,
    lead_s: u32,
) -> bool {
    let cycles = config.history_days;
    let (daily, day_kind) = if whole_cycles(h, now, Period::Weekly) >= 1 {
        let from = now - Period::Weekly.duration();
        (
            backtest(h, from, now, Period::Daily, cycles, config, lead_s),
            backtest(h, from, now, Period::DayKind, cycles, config, lead_s),
        )
    } else {
        (daily, day_kind)
    };
    let error = |s: &Score| s.predictive.asymmetric_error_pct;
    if error(&day_kind) != error(&daily) {
        return error(&day_kind) < error(&daily);
    }
    let base = h.index_of(now);
    let days = |i: i64, period: Period| reference_slots(h, i, period, cycles, config).count();
    (0..Period::Daily.slots()).any(|k| days(base + k, Period::DayKind) == 0 && days(base + k, Period::Daily) > 0)
}

/// Fits the profile at `now` from the history before it (at most `config.history_days`).
// The refusal carries its back-test scores for the decision's reasons; it is built a few times an
// hour, so its size does not matter.
#[allow(clippy::result_large_err)]
pub fn fit(history: &History, now: DateTime<Utc>, config: &PredictiveConfig, lead_s: u32) -> Result<Model, NoForecast> {
    let now = slot_start(now);
    let h = history.window(now, config.history_days);
    let whole_days = whole_cycles(&h, now, Period::Daily);
    let candidates: Vec<Period> = Period::ALL
        .into_iter()
        .filter(|p| p.days() * 2 <= config.history_days && whole_cycles(&h, now, *p) >= 2)
        .collect();
    let Some(longest) = candidates.last().copied() else {
        let history_days = h.coverage(h.start(), h.end()) * h.len() as f64 * STEP_S as f64 / 86_400.0;
        return Err(NoForecast::NotEnoughHistory { history_days, whole_days });
    };
    // Every candidate is scored on the same slots: the last cycle of the longest one, or its
    // last two when the history holds three (a daily profile after three days): one day of
    // random bursts can line up with the days before it by chance, two rarely do.
    let eval_cycles = if whole_cycles(&h, now, longest) >= 3 { 2 } else { 1 };
    let eval_from = now - longest.duration() * eval_cycles;
    let cycles_of = |p: Period| config.history_days / p.days();
    let scored: Vec<(Period, Score)> =
        candidates.iter().map(|&p| (p, backtest(&h, eval_from, now, p, cycles_of(p), config, lead_s))).collect();
    // The weekly profile must be clearly better (by MIN_RELATIVE_GAIN) than the daily one
    // chosen, since the shorter period reads more cycles per slot.
    let error = |s: &Score| s.predictive.asymmetric_error_pct;
    let position = |period: Period| scored.iter().position(|(p, _)| *p == period);
    // Every daily-length candidate needs the same two whole days, so the plain daily profile is
    // scored whenever its split is.
    let daily = position(Period::Daily).unwrap_or(0);
    let mut best = daily;
    if let Some(k) = position(Period::DayKind) {
        if day_kind_wins(&h, now, scored[daily].1, scored[k].1, config, lead_s) {
            best = k;
        }
    }
    if let Some(k) = position(Period::Weekly) {
        if error(&scored[k].1) < (1.0 - MIN_RELATIVE_GAIN) * error(&scored[best].1) {
            best = k;
        }
    }
    let (period, backtest) = scored[best];
    // The runner-up, for the reasons.
    let other = scored
        .iter()
        .enumerate()
        .filter(|(k, _)| *k != best)
        .map(|(_, s)| *s)
        .min_by(|a, b| error(&a.1).total_cmp(&error(&b.1)));
    let no_pattern = |period: Period, backtest: Score| {
        let out_of_phase = out_of_phase_backtest(&h, eval_from, now, period, cycles_of(period), config, lead_s);
        let none =
            backtest.avoided_node_minutes <= 0.0 || error(&backtest) > (1.0 - MIN_RELATIVE_GAIN) * error(&out_of_phase);
        (none, out_of_phase)
    };
    let (none, out_of_phase) = no_pattern(period, backtest);
    if none {
        return Err(NoForecast::NoPattern { period, backtest, out_of_phase });
    }
    // A profile by kind of day reads as few as two days a slot, and two days of bursts can line
    // up by chance: the plain daily profile, reading every day, must show the pattern too.
    if period == Period::DayKind {
        let plain = scored[daily].1;
        if let (true, out_of_phase) = no_pattern(Period::Daily, plain) {
            return Err(NoForecast::NoPattern { period: Period::Daily, backtest: plain, out_of_phase });
        }
    }
    let cycles = cycles_of(period);
    let base = h.index_of(now);
    let mut buf = Vec::with_capacity(cycles as usize);
    let slots = (0..period.slots()).map(|k| slot_forecast(&h, base + k, period, cycles, config, &mut buf)).collect();
    Ok(Model {
        period,
        fitted_at: now,
        quantile: config.quantile,
        margin_pct: config.margin_pct,
        cycles,
        lead_s,
        slots,
        backtest,
        other,
        out_of_phase,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::forecast::history::DemandSample;

    fn monday() -> DateTime<Utc> {
        "2026-11-02T00:00:00Z".parse().unwrap()
    }

    /// A weekday rush 08:30–10:30 to 5.2 nodes over 0.8 node, weekends flat: a weekly pattern.
    fn rush(at: DateTime<Utc>) -> f64 {
        use chrono::{Datelike, Timelike};
        let weekday = at.weekday().num_days_from_monday() < 5;
        let minute = at.hour() * 60 + at.minute();
        if weekday && (510..630).contains(&minute) {
            5.2
        } else {
            0.8
        }
    }

    fn history_of(days: i64, f: impl Fn(DateTime<Utc>, i64) -> Option<f64>) -> History {
        let samples: Vec<DemandSample> = (0..days * 288)
            .filter_map(|i| {
                let at = monday() + Duration::seconds(i * STEP_S);
                f(at, i).map(|nodes| DemandSample { at, nodes })
            })
            .collect();
        History::from_samples(&samples).unwrap()
    }

    /// Deterministic noise in [0, 1).
    fn noise(i: i64, seed: u64) -> f64 {
        crate::forecast::tests::unit(i as u64 ^ seed)
    }

    #[test]
    fn quantiles_interpolate() {
        assert_eq!(quantile(&mut [3.0, 1.0, 2.0, 4.0, 5.0], Quantile::P90), 4.6);
        assert_eq!(quantile(&mut [3.0, 1.0], Quantile::MAX), 3.0);
        assert_eq!(quantile(&mut [7.0], Quantile::P90), 7.0);
    }

    #[test]
    fn needs_two_whole_cycles() {
        let config = PredictiveConfig::default();
        let h = history_of(1, |at, _| Some(rush(at)));
        let now = monday() + Duration::hours(24);
        let err = fit(&h, now, &config, 600).unwrap_err();
        assert_eq!(err, NoForecast::NotEnoughHistory { history_days: 1.0, whole_days: 1 });
        let later = fit(&h, now + Duration::hours(12), &config, 600).unwrap_err();
        assert!(
            matches!(later, NoForecast::NotEnoughHistory { whole_days: 0, .. }),
            "cycles count back from now: {later}"
        );
        assert!(err.to_string().starts_with("no forecast: 1.0 days of history (1 whole)"), "{err}");
        // Two days with a gap over most of the first: not whole.
        let gappy = history_of(2, |at, i| (i >= 200).then(|| rush(at)));
        assert!(matches!(
            fit(&gappy, monday() + Duration::days(2), &config, 600),
            Err(NoForecast::NotEnoughHistory { whole_days: 1, .. })
        ));
    }

    #[test]
    fn learns_the_weekday_rush_and_pre_scales_for_it() {
        let config = PredictiveConfig::default();
        let h = history_of(14, |at, _| Some(rush(at)));
        let now = monday() + Duration::days(14) + Duration::minutes(8 * 60 + 20);
        let model = fit(&h, now, &config, 600).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(model.period, Period::Weekly, "weekends differ, so weekly wins: {:?}", model.other);
        assert_eq!(model.cycles, 2);
        assert!(model.backtest.avoided_node_minutes > 0.0);
        assert_eq!(model.need(now, 600), Some((6, now + Duration::minutes(10))), "5.2 × 1.1 → 6 nodes by 08:30");
        assert_eq!(model.need(now + Duration::hours(3), 600).map(|n| n.0), Some(1), "0.8 × 1.1 after");
        assert_eq!(model.need(now - Duration::minutes(30), 600), None, "nothing before the fit");
        assert_eq!(model.describe(), "weekly profile, p90 of 2 weeks + 10 %");
        // The profile speaks for its whole week from the fit on, and for nothing before it.
        assert_eq!(model.known_ahead_s(now, 7200), 7200);
        assert_eq!(model.known_ahead_s(now - Duration::minutes(30), 7200), 0);
        let end = model.fitted_at + Period::Weekly.duration();
        assert_eq!(model.known_ahead_s(end - Duration::minutes(12), 7200), 12 * 60, "up to the cycle's end");
    }

    #[test]
    fn a_first_weekend_is_not_forecast_from_weekdays() {
        let config = PredictiveConfig::default();
        let saturday = monday() + Duration::days(5);
        let model =
            fit(&history_of(5, |at, _| Some(rush(at))), saturday, &config, 600).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(model.period, Period::DayKind, "{:?}", model.other);
        assert_eq!(model.other.map(|o| o.0), Some(Period::Daily), "the two scored alike on weekdays");
        let rush_hour = saturday + Duration::hours(9);
        assert_eq!(model.at(rush_hour), None, "no weekend seen: no forecast, reactive alone");
        assert_eq!(model.known_ahead_s(saturday, 7200), 0);
        let plain = shifted_slot_forecast(
            &history_of(5, |at, _| Some(rush(at))),
            5 * 288 + 108,
            Period::Daily,
            14,
            0,
            &config,
            &mut Vec::new(),
        );
        assert!(plain.is_some_and(|v| v > 5.0), "the plain profile would forecast the weekday rush: {plain:?}");
    }

    #[test]
    fn weekends_are_forecast_from_weekends() {
        let config = PredictiveConfig::default();
        let h = history_of(12, |at, _| Some(rush(at)));
        // Saturday of the second week: one weekend seen, and the last week shows it differs.
        let saturday = monday() + Duration::days(12);
        let model = fit(&h, saturday, &config, 600).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(model.period, Period::DayKind, "{:?}", model.other);
        assert_eq!(model.need(saturday + Duration::hours(8), 3600).map(|n| n.0), Some(1), "0.8 × 1.1, no rush");
        assert_eq!(model.describe(), "weekday/weekend profile, p90 of the days of the same kind in 14 + 10 %");
        // A load the same every day keeps the plain daily profile once a week shows it.
        let every_day = history_of(12, |_, i| {
            let minute = (i % 288) * 5;
            Some(if (510..630).contains(&minute) { 5.2 } else { 0.8 } + 0.1 * noise(i, 3))
        });
        let model = fit(&every_day, saturday, &config, 600).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(model.period, Period::Daily, "{:?}", model.other);
    }

    #[test]
    fn learns_a_spike_every_hour() {
        // The ASG trace's shape: 3 nodes, and a 5-minute spike to 8 at the same minute of every
        // hour. Read exactly 12 h out of phase it would land on itself and be refused.
        let h = history_of(14, |_, i| Some(if i % 12 == 1 { 8.0 } else { 3.0 + 0.3 * noise(i, 11) }));
        let now = monday() + Duration::days(14);
        let model = fit(&h, now, &PredictiveConfig::default(), 600).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(model.period, Period::Daily, "the hourly spike repeats every day: {:?}", model.other);
        let error = |s: &Score| s.predictive.asymmetric_error_pct;
        assert!(error(&model.backtest) < (1.0 - MIN_RELATIVE_GAIN) * error(&model.out_of_phase));
        // What a 12-hour shift would have scored on the same slots: exactly the profile's own.
        let config = PredictiveConfig::default();
        let mut buf = Vec::new();
        let twelve_hours = score_needs(&h, now - Duration::days(7), now, 600, |i| {
            shifted_slot_forecast(&h, i, Period::Daily, 14, 144, &config, &mut buf)
        });
        assert_eq!(error(&twelve_hours), error(&model.backtest));
        assert_eq!(model.need(now, 0).map(|n| n.0), Some(4), "between spikes: 3.3 × 1.1");
        assert_eq!(model.need(now, 600).map(|n| n.0), Some(9), "the spike 5 minutes in: 8 × 1.1");
        assert!(OUT_OF_PHASE_SHIFTS.iter().all(|s| s * STEP_S % 3600 != 0), "none a whole number of hours");
    }

    #[test]
    fn no_pattern_in_random_bursts() {
        let config = PredictiveConfig::default();
        // 2 nodes, with 30-minute bursts to 7 nodes starting at random slots, ~3 a day.
        let h = history_of(28, |_, i| {
            let burst = (0..6).any(|k| noise(i - k, 99) < 3.0 / 288.0);
            Some(if burst { 7.0 } else { 2.0 + noise(i, 3) })
        });
        let config = PredictiveConfig { history_days: 28, ..config };
        let err = fit(&h, monday() + Duration::days(28), &config, 600).unwrap_err();
        assert!(matches!(err, NoForecast::NoPattern { .. }), "{err}");
        assert!(err.to_string().starts_with("no pattern: "), "{err}");
    }

    #[test]
    fn no_pattern_in_flat_demand() {
        let h = history_of(14, |_, i| Some(3.0 + 0.5 * noise(i, 5)));
        let err = fit(&h, monday() + Duration::days(14), &PredictiveConfig::default(), 600).unwrap_err();
        assert!(matches!(err, NoForecast::NoPattern { .. }), "reactive already holds flat demand: {err}");
    }
}
