//! Configuration sources. Production reads the process environment; tests use a map,
//! so no test ever mutates the environment.

use std::collections::BTreeMap;
use std::str::FromStr;

use crate::{Error, Result};

/// Where configuration values come from.
pub trait ConfigSource {
    fn get(&self, key: &str) -> Option<String>;
}

/// Reads the process environment.
#[derive(Debug, Default, Clone, Copy)]
pub struct EnvConfig;

impl ConfigSource for EnvConfig {
    fn get(&self, key: &str) -> Option<String> {
        std::env::var(key).ok()
    }
}

/// A fixed set of values, for tests and for the simulator.
#[derive(Debug, Default, Clone)]
pub struct MapConfig(BTreeMap<String, String>);

impl MapConfig {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with(mut self, key: &str, value: impl ToString) -> Self {
        self.0.insert(key.to_string(), value.to_string());
        self
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for MapConfig {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        MapConfig(iter.into_iter().map(|(k, v)| (k.into(), v.into())).collect())
    }
}

impl ConfigSource for MapConfig {
    fn get(&self, key: &str) -> Option<String> {
        self.0.get(key).cloned()
    }
}

/// A value that must be present and non-empty.
pub fn required(source: &dyn ConfigSource, key: &str) -> Result<String> {
    match source.get(key) {
        Some(v) if !v.trim().is_empty() => Ok(v.trim().to_string()),
        Some(_) => Err(Error::config(key, "is set but empty")),
        None => Err(Error::config(key, "is required but not set")),
    }
}

/// An optional value; empty counts as unset.
pub fn optional(source: &dyn ConfigSource, key: &str) -> Option<String> {
    source.get(key).map(|v| v.trim().to_string()).filter(|v| !v.is_empty())
}

/// An optional value parsed as `T`, with an error naming the variable when it does not parse.
pub fn parsed<T: FromStr>(source: &dyn ConfigSource, key: &str) -> Result<Option<T>>
where
    T::Err: std::fmt::Display,
{
    match optional(source, key) {
        None => Ok(None),
        Some(raw) => raw.parse::<T>().map(Some).map_err(|e| Error::config(key, format!("cannot parse {raw:?}: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn required_names_the_variable() {
        let cfg = MapConfig::new().with("EMPTY", " ");
        assert_eq!(required(&cfg, "MISSING").unwrap_err(), Error::config("MISSING", "is required but not set"));
        assert_eq!(required(&cfg, "EMPTY").unwrap_err(), Error::config("EMPTY", "is set but empty"));
    }

    #[test]
    fn parsed_reports_bad_numbers() {
        let cfg = MapConfig::new().with("N", "ten");
        let err = parsed::<u32>(&cfg, "N").unwrap_err();
        assert!(matches!(err, Error::Config { ref var, .. } if var == "N"), "{err}");
        assert_eq!(parsed::<u32>(&MapConfig::new().with("N", "10"), "N").unwrap(), Some(10));
        assert_eq!(parsed::<u32>(&MapConfig::new(), "N").unwrap(), None);
    }
}
