//! The handler settings a run gives (`simulate --set KEY=VALUE`), read by the handlers' own
//! `from_config`, as production's cold starts read their environment. A key none of them asks
//! for would change nothing, and a run that silently ignores `--set MIN_NODE=3` answers a
//! question nobody asked: it is an error naming the key and the nearest key they do read.
//!
//! The known keys are not a list kept by hand: a [`RecordingConfig`] notes every key the
//! readers ask for while they read, so a setting a handler starts reading is known at once.

use std::cell::RefCell;
use std::collections::BTreeSet;

use smartscale_core::config::{ConfigSource, MapConfig};
use smartscale_core::{Error, Result};
use smartscale_decider::DeciderConfig;
use smartscale_drain_worker::DrainConfig;
use smartscale_scale_up_worker::ScaleUpConfig;
use smartscale_slack_forwarder::ForwarderConfig;
use smartscale_spot_handler::SpotConfig;

use crate::model::SimConfig;

/// A source that remembers every key asked of it.
pub(crate) struct RecordingConfig<'a> {
    inner: &'a dyn ConfigSource,
    asked: RefCell<BTreeSet<String>>,
}

impl<'a> RecordingConfig<'a> {
    pub(crate) fn new(inner: &'a dyn ConfigSource) -> Self {
        RecordingConfig { inner, asked: RefCell::new(BTreeSet::new()) }
    }

    pub(crate) fn asked(&self) -> BTreeSet<String> {
        self.asked.borrow().clone()
    }
}

impl ConfigSource for RecordingConfig<'_> {
    fn get(&self, key: &str) -> Option<String> {
        self.asked.borrow_mut().insert(key.to_string());
        self.inner.get(key)
    }
}

/// Every handler's configuration for a run.
pub(crate) struct HandlerConfigs {
    pub decider: DeciderConfig,
    pub scale_up: ScaleUpConfig,
    pub drain: DrainConfig,
    pub spot: SpotConfig,
    pub forwarder: ForwarderConfig,
}

impl HandlerConfigs {
    /// Reads every handler's configuration from `source` (the run's settings over the
    /// simulator's base), then refuses any of `settings`' keys that no handler asked for.
    pub(crate) fn read(source: &MapConfig, settings: &[(String, String)]) -> Result<HandlerConfigs> {
        let recording = RecordingConfig::new(source);
        let configs = HandlerConfigs {
            decider: DeciderConfig::from_config(&recording)?,
            scale_up: ScaleUpConfig::from_config(&recording)?,
            drain: DrainConfig::from_config(&recording)?,
            spot: SpotConfig::from_config(&recording)?,
            forwarder: ForwarderConfig::from_config(&recording)?,
        };
        check_read(settings, &recording.asked())?;
        Ok(configs)
    }
}

/// Checks a run's `--set` keys before it starts, so a typo fails in a second, not after a run.
pub fn check_settings(config: &SimConfig) -> Result<()> {
    HandlerConfigs::read(&crate::world::handler_config(config), &config.settings).map(|_| ())
}

fn check_read(settings: &[(String, String)], known: &BTreeSet<String>) -> Result<()> {
    for (key, _) in settings {
        if !known.contains(key) {
            let hint = match nearest(key, known) {
                Some(near) => format!("; did you mean {near}?"),
                None => String::new(),
            };
            return Err(Error::invalid(
                "--set",
                format!("no handler reads {key}, so setting it would change nothing{hint}"),
            ));
        }
    }
    Ok(())
}

/// The known key at the smallest edit distance from `key`, if any is close enough to be a typo
/// (at most a third of the key's length, and at least 2 edits allowed).
fn nearest<'a>(key: &str, known: &'a BTreeSet<String>) -> Option<&'a str> {
    let limit = (key.chars().count() / 3).max(2);
    known
        .iter()
        .map(|k| (edit_distance(&key.to_ascii_uppercase(), k), k))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k.as_str())
}

/// Levenshtein distance, by chars.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current.push(substitution.min(previous[j + 1] + 1).min(current[j] + 1));
        }
        previous = current;
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_with(settings: &[(&str, &str)]) -> Result<()> {
        let config = SimConfig {
            settings: settings.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            ..SimConfig::new(1)
        };
        check_settings(&config)
    }

    #[test]
    fn the_edit_distance_counts_insertions_deletions_and_substitutions() {
        assert_eq!(edit_distance("MIN_NODES", "MIN_NODES"), 0);
        assert_eq!(edit_distance("MIN_NODE", "MIN_NODES"), 1);
        assert_eq!(edit_distance("MIN_NOTES", "MIN_NODES"), 1);
        assert_eq!(edit_distance("", "ABC"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn keys_the_handlers_read_are_accepted() {
        run_with(&[("MIN_NODES", "3"), ("SCALE_DOWN_FIT_CHECK", "false"), ("DRAIN_CANDIDATE", "fewest_pods")]).unwrap();
    }

    #[test]
    fn an_unread_key_names_itself_and_the_nearest_known_one() {
        let err = run_with(&[("MIN_NODES", "3"), ("MIN_NODE", "3")]).unwrap_err().to_string();
        assert!(err.contains("no handler reads MIN_NODE") && err.contains("did you mean MIN_NODES?"), "{err}");
        let err = run_with(&[("min_nodes", "3")]).unwrap_err().to_string();
        assert!(err.contains("did you mean MIN_NODES?"), "{err}");
        let err = run_with(&[("TOTALLY_UNRELATED_THING", "1")]).unwrap_err().to_string();
        assert!(err.contains("no handler reads TOTALLY_UNRELATED_THING") && !err.contains("did you mean"), "{err}");
    }

    #[test]
    fn the_known_keys_come_from_the_readers() {
        let source = crate::world::handler_config(&SimConfig::new(1));
        let recording = RecordingConfig::new(&source);
        DrainConfig::from_config(&recording).unwrap();
        let asked = recording.asked();
        assert!(asked.contains("DRAIN_CANDIDATE") && asked.contains("CLUSTER_ID"), "{asked:?}");
    }
}
