//! The process environment, read once and passed down as a value.
//!
//! Logic never calls `std::env::var` itself: it takes an [`Env`], so tests hand it a map and the real process hands
//! it a snapshot. This is also the one place that knows the names of tokenfob's own variables.

use std::time::Duration;

/// `$TOKENFOB_CONFIG`: the configuration file.
pub(crate) const CONFIG: &str = "TOKENFOB_CONFIG";
/// `$TOKENFOB_PROFILE`: the profile to use when none is named.
pub(crate) const PROFILE: &str = "TOKENFOB_PROFILE";
/// `$TOKENFOB_CACHE_DIR`: the cache directory.
pub(crate) const CACHE_DIR: &str = "TOKENFOB_CACHE_DIR";
/// `$TOKENFOB_NO_INPUT`: `1` forbids prompting.
pub(crate) const NO_INPUT: &str = "TOKENFOB_NO_INPUT";
/// `$TOKENFOB_LOCK_TIMEOUT`: how long to wait for another process's renewal.
const LOCK_TIMEOUT: &str = "TOKENFOB_LOCK_TIMEOUT";
/// `$TOKENFOB_LOG`: `debug` prints what tokenfob does (never secrets) on stderr.
const LOG: &str = "TOKENFOB_LOG";

/// A snapshot of environment variables.
///
/// A list, not a hash map: an environment holds tens of variables and tokenfob asks for a handful, so a scan is
/// cheaper than hashing every name on start-up, which every cache hit pays (docs/performance.md).
#[derive(Debug, Clone, Default)]
pub(crate) struct Env {
    vars: Vec<(String, String)>,
}

impl Env {
    /// The current process's environment (variables that are not UTF-8 are skipped).
    pub(crate) fn from_process() -> Env {
        let vars =
            std::env::vars_os().filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?))).collect();
        Env { vars }
    }

    /// An environment made of the given pairs (for tests).
    #[cfg(test)]
    pub(crate) fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Env {
        let vars = pairs.into_iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect();
        Env { vars }
    }

    /// The value of `name`, when set and not empty; of a name given twice, the later one.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        let (_, value) = self.vars.iter().rev().find(|(k, _)| k == name)?;
        Some(value.as_str()).filter(|v| !v.is_empty())
    }

    /// True when `name` is set to a value that means yes (`1`, `true`, `yes`).
    pub(crate) fn flag(&self, name: &str) -> bool {
        matches!(self.get(name), Some("1" | "true" | "yes" | "on"))
    }

    /// The lock timeout: `$TOKENFOB_LOCK_TIMEOUT` as seconds or a duration such as `30s`, else 30 s; at most
    /// [`crate::duration::MAX`].
    pub(crate) fn lock_timeout(&self) -> Result<Duration, String> {
        let Some(text) = self.get(LOCK_TIMEOUT) else { return Ok(Duration::from_secs(30)) };
        let secs = match text.parse::<f64>() {
            Ok(secs) if secs >= 0.0 && secs.is_finite() => secs,
            _ => return crate::duration::parse(text).map_err(|why| format!("{LOCK_TIMEOUT}={text:?}: {why}")),
        };
        match Duration::try_from_secs_f64(secs) {
            Ok(d) if d <= crate::duration::MAX => Ok(d),
            _ => Err(format!("{LOCK_TIMEOUT}={text:?}: more than the maximum of {}", crate::duration::MAX_TEXT)),
        }
    }

    /// True when `$TOKENFOB_LOG` asks for debug lines.
    pub(crate) fn debug(&self) -> bool {
        matches!(self.get(LOG), Some("debug" | "trace"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_later_of_two_values_wins_and_empty_is_unset() {
        let env = Env::from_pairs([("A", "first"), ("B", ""), ("A", "second")]);
        assert_eq!(env.get("A"), Some("second"));
        assert_eq!(env.get("B"), None);
        assert_eq!(env.get("C"), None);
        assert!(Env::from_pairs([(NO_INPUT, "yes")]).flag(NO_INPUT));
        assert!(!Env::from_pairs([(NO_INPUT, "0")]).flag(NO_INPUT));
    }

    #[test]
    fn lock_timeouts_are_bounded() {
        let lock = |v: &str| Env::from_pairs([(LOCK_TIMEOUT, v)]).lock_timeout();
        assert_eq!(lock("0.5"), Ok(Duration::from_millis(500)));
        assert_eq!(lock("2m"), Ok(Duration::from_secs(120)));
        for bad in ["1e30", "1e300", "inf", "NaN", "-1", "4294967295d"] {
            assert!(lock(bad).unwrap_err().contains(LOCK_TIMEOUT), "{bad}");
        }
    }
}
