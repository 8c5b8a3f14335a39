//! The ChatGPT usage windows, as the backend reports them on every answer
//! in `x-codex-primary-*` (the short, about 5-hour window) and
//! `x-codex-secondary-*` (the weekly window) headers.
//!
//! Pure: headers are looked up through a closure and the time is a parameter.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Both windows as last seen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RateLimits {
    pub primary: Option<Window>,
    pub secondary: Option<Window>,
    pub observed_at: DateTime<Utc>,
}

/// One usage window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Window {
    pub used_percent: f64,
    pub window_minutes: Option<u64>,
    /// When the window resets, from `-reset-at` or `-reset-after-seconds`.
    pub resets_at: Option<DateTime<Utc>>,
}

impl RateLimits {
    /// "5 h window 12% used, resets 2026-11-24 14:05 UTC; weekly window 3% used, resets …".
    pub fn describe(&self) -> String {
        let windows = [("short", &self.primary), ("weekly", &self.secondary)];
        let parts: Vec<String> = windows
            .into_iter()
            .filter_map(|(fallback, window)| window.as_ref().map(|w| w.describe(fallback)))
            .collect();
        parts.join("; ")
    }

    /// Read both windows; `None` when the answer carried neither.
    pub fn from_headers<'a>(header: impl Fn(&str) -> Option<&'a str>, now: DateTime<Utc>) -> Option<Self> {
        let primary = window(&header, "primary", now);
        let secondary = window(&header, "secondary", now);
        (primary.is_some() || secondary.is_some()).then_some(RateLimits { primary, secondary, observed_at: now })
    }
}

impl Window {
    fn describe(&self, fallback: &str) -> String {
        let name = match self.window_minutes {
            Some(10_080) => "weekly".to_owned(),
            Some(m) if m % 60 == 0 => format!("{} h", m / 60),
            Some(m) => format!("{m} min"),
            None => fallback.to_owned(),
        };
        let reset =
            self.resets_at.map(|at| format!(", resets {}", at.format("%Y-%m-%d %H:%M UTC"))).unwrap_or_default();
        format!("{name} window {}% used{reset}", self.used_percent)
    }
}

fn window<'a>(header: &impl Fn(&str) -> Option<&'a str>, name: &str, now: DateTime<Utc>) -> Option<Window> {
    let get = |suffix: &str| header(&format!("x-codex-{name}-{suffix}")).map(str::trim);
    let used_percent = get("used-percent")?.parse::<f64>().ok().filter(|p| p.is_finite())?;
    let window_minutes = get("window-minutes").and_then(|v| v.parse().ok());
    let resets_at = get("reset-at")
        .and_then(|v| v.parse::<i64>().ok())
        .and_then(|secs| DateTime::from_timestamp(secs, 0))
        .or_else(|| {
            let after = get("reset-after-seconds")?.parse::<i64>().ok()?;
            Some(now + chrono::Duration::seconds(after))
        });
    Some(Window { used_percent, window_minutes, resets_at })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_764_000_000, 0).unwrap()
    }

    #[test]
    fn reads_both_windows_from_the_fixture_headers() {
        let fixture = include_str!("../../tests/fixtures/codex-429-usage-limit.http");
        let headers: Vec<(String, String)> = fixture
            .split("\n\n")
            .next()
            .unwrap()
            .lines()
            .skip(1)
            .filter_map(|l| l.split_once(": "))
            .map(|(k, v)| (k.to_ascii_lowercase(), v.to_owned()))
            .collect();
        let lookup = |name: &str| headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
        let limits = RateLimits::from_headers(lookup, now()).unwrap();
        let primary = limits.primary.unwrap();
        assert_eq!(primary.used_percent, 100.0);
        assert_eq!(primary.window_minutes, Some(300));
        assert_eq!(primary.resets_at, Some(now() + chrono::Duration::seconds(3120)));
        let secondary = limits.secondary.unwrap();
        assert_eq!(secondary.used_percent, 41.0);
        assert_eq!(secondary.window_minutes, Some(10080));
    }

    #[test]
    fn reset_at_wins_and_garbage_is_ignored() {
        let headers = [
            ("x-codex-primary-used-percent", "12.5"),
            ("x-codex-primary-reset-at", "1764003600"),
            ("x-codex-primary-reset-after-seconds", "5"),
            ("x-codex-secondary-used-percent", "lots"),
        ];
        let lookup = |name: &str| headers.iter().find(|(k, _)| *k == name).map(|(_, v)| *v);
        let limits = RateLimits::from_headers(lookup, now()).unwrap();
        let primary = limits.primary.unwrap();
        assert_eq!(primary.used_percent, 12.5);
        assert_eq!(primary.resets_at, DateTime::from_timestamp(1_764_003_600, 0));
        assert_eq!(limits.secondary, None);
    }

    #[test]
    fn describes_both_windows() {
        let at = |s| DateTime::from_timestamp(s, 0);
        let limits = RateLimits {
            primary: Some(Window { used_percent: 12.0, window_minutes: Some(300), resets_at: at(1_764_003_600) }),
            secondary: Some(Window { used_percent: 3.5, window_minutes: Some(10_080), resets_at: None }),
            observed_at: now(),
        };
        assert_eq!(limits.describe(), "5 h window 12% used, resets 2025-11-24 17:00 UTC; weekly window 3.5% used");
    }

    #[test]
    fn no_headers_no_limits() {
        assert_eq!(RateLimits::from_headers(|_| None, now()), None);
    }
}
