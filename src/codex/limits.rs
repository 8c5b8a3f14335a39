//! The ChatGPT usage windows, as the backend reports them in the headers of
//! every answer, and which of them refused a request.
//!
//! What the headers mean, as the Codex CLI reads them (`openai/codex`,
//! `codex-rs/codex-api/src/rate_limits.rs` and `api_bridge.rs`, Aug–Sep 2026):
//!
//! - Limits come in *families*. A family's windows are
//!   `x-<family>-{primary,secondary}-{used-percent,window-minutes,reset-at}`,
//!   `reset-at` in unix seconds; `x-<family>-limit-name` is its display
//!   name. The default family is `codex` (primary: the short, about 5-hour
//!   window; secondary: the weekly one). Other families are named by a limit
//!   id spelled in lower case with `_` as `-`: `codex_bengalfox` →
//!   `x-codex-bengalfox-primary-used-percent`.
//! - `x-codex-active-limit`, sent with a 429 `usage_limit_reached`, is the
//!   limit id of the family that refused the request. It names a family, not
//!   a window.
//! - `x-codex-rate-limit-reached-type` says *why*: `rate_limit_reached`,
//!   `workspace_{owner,member}_credits_depleted` or
//!   `workspace_{owner,member}_usage_limit_reached`. It names no window either.
//! - `x-codex-credits-{has-credits,unlimited,balance}`: the credits balance.
//! - `-reset-after-seconds` (relative) is no longer read by Codex; codexd
//!   still reads it when `-reset-at` is missing.
//!
//! So no header says which window of a family refused a request: Codex only
//! shows the body's `resets_at`. When the body says nothing, codexd takes the
//! reset of the window that is used up ([`RateLimits::tripped`]) in the family
//! that refused ([`ActiveLimit`]).
//!
//! Pure: headers are looked up through a closure and the time is a parameter.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The header naming the limit family that refused a request.
pub const ACTIVE_LIMIT_HEADER: &str = "x-codex-active-limit";
/// The header saying why a usage limit refused a request.
pub const REACHED_TYPE_HEADER: &str = "x-codex-rate-limit-reached-type";
/// The default limit family.
const DEFAULT_FAMILY: &str = "codex";

/// Both windows of one family as last seen.
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

/// The limit family that refused a request (see the module doc).
#[derive(Debug, Clone, PartialEq)]
pub struct ActiveLimit {
    /// The limit id from `x-codex-active-limit`, `codex` when absent.
    pub id: String,
    /// `x-<family>-limit-name`, when the family has one.
    pub name: Option<String>,
    /// The family's windows, when the answer carried them.
    pub limits: Option<RateLimits>,
}

impl ActiveLimit {
    /// Read the family named by `x-codex-active-limit` (or `codex`).
    pub fn from_headers<'a>(header: impl Fn(&str) -> Option<&'a str>, now: DateTime<Utc>) -> Self {
        let id = header(ACTIVE_LIMIT_HEADER)
            .map(str::trim)
            .filter(|id| !id.is_empty())
            .unwrap_or(DEFAULT_FAMILY)
            .to_ascii_lowercase();
        let prefix = family_prefix(&id);
        let name = header(&format!("{prefix}-limit-name")).map(str::trim).filter(|n| !n.is_empty()).map(str::to_owned);
        let limits = RateLimits::of_family(&header, &prefix, now);
        ActiveLimit { id, name, limits }
    }

    /// Whether this is the default `codex` family.
    pub fn is_default(&self) -> bool {
        family_prefix(&self.id) == family_prefix(DEFAULT_FAMILY)
    }

    /// When the window that refused the request resets.
    pub fn resets_at(&self) -> Option<DateTime<Utc>> {
        self.limits.as_ref()?.tripped()?.resets_at
    }
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

    /// Read both windows of the default `codex` family; `None` when the
    /// answer carried neither.
    pub fn from_headers<'a>(header: impl Fn(&str) -> Option<&'a str>, now: DateTime<Utc>) -> Option<Self> {
        Self::of_family(&header, &family_prefix(DEFAULT_FAMILY), now)
    }

    /// Both windows of the family whose headers start with `prefix`.
    fn of_family<'a>(header: &impl Fn(&str) -> Option<&'a str>, prefix: &str, now: DateTime<Utc>) -> Option<Self> {
        let primary = window(header, prefix, "primary", now);
        let secondary = window(header, prefix, "secondary", now);
        (primary.is_some() || secondary.is_some()).then_some(RateLimits { primary, secondary, observed_at: now })
    }

    /// The window that refused a request: the used-up one (100 % or more;
    /// of two, the one that resets last, since both must reset before a
    /// request passes), else the fullest.
    pub fn tripped(&self) -> Option<&Window> {
        let windows = || [self.primary.as_ref(), self.secondary.as_ref()].into_iter().flatten();
        windows().filter(|w| w.used_percent >= 100.0).max_by_key(|w| w.resets_at).or_else(|| {
            windows().max_by(|a, b| a.used_percent.total_cmp(&b.used_percent).then(a.resets_at.cmp(&b.resets_at)))
        })
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

/// `x-codex-bengalfox` for the limit id `codex_bengalfox`, as Codex spells it.
fn family_prefix(id: &str) -> String {
    format!("x-{}", id.trim().to_ascii_lowercase().replace('_', "-"))
}

fn window<'a>(
    header: &impl Fn(&str) -> Option<&'a str>,
    prefix: &str,
    name: &str,
    now: DateTime<Utc>,
) -> Option<Window> {
    let get = |suffix: &str| header(&format!("{prefix}-{name}-{suffix}")).map(str::trim);
    let used_percent = get("used-percent")?.parse::<f64>().ok().filter(|p| p.is_finite())?;
    let window_minutes = get("window-minutes").and_then(|v| v.parse().ok());
    let resets_at = get("reset-at")
        .and_then(|v| v.parse::<i64>().ok())
        .and_then(|secs| DateTime::from_timestamp(secs, 0))
        .or_else(|| {
            let after = get("reset-after-seconds")?.parse::<i64>().ok()?;
            now.checked_add_signed(chrono::Duration::try_seconds(after)?)
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

    #[test]
    fn a_reset_after_out_of_range_is_ignored() {
        for after in [i64::MAX.to_string(), i64::MIN.to_string(), "9000000000000000".to_owned()] {
            let headers = [("x-codex-primary-used-percent", "100"), ("x-codex-primary-reset-after-seconds", &after)];
            let lookup = |name: &str| headers.iter().find(|(k, _)| *k == name).map(|(_, v)| *v);
            let primary = RateLimits::from_headers(lookup, now()).unwrap().primary.unwrap();
            assert_eq!(primary.resets_at, None, "{after}");
        }
    }

    fn window(used_percent: f64, resets_in: Option<i64>) -> Option<Window> {
        let resets_at = resets_in.map(|secs| now() + chrono::Duration::seconds(secs));
        Some(Window { used_percent, window_minutes: None, resets_at })
    }

    #[test]
    fn the_tripped_window_is_the_used_up_one() {
        let (hour, week) = (Some(3_600), Some(400_000));
        let table = [
            ("primary used up", window(100.0, hour), window(41.0, week), hour),
            ("secondary used up", window(35.0, hour), window(100.0, week), week),
            ("both: the later reset", window(100.0, hour), window(100.0, week), week),
            ("over 100 counts", window(20.0, hour), window(101.5, week), week),
            ("none used up: the fullest", window(97.0, hour), window(60.0, week), hour),
            ("used up without a reset", window(100.0, None), window(50.0, week), None),
            ("secondary only", None, window(100.0, week), week),
        ];
        for (name, primary, secondary, want) in table {
            let limits = RateLimits { primary, secondary, observed_at: now() };
            let got = limits.tripped().and_then(|w| w.resets_at);
            assert_eq!(got, want.map(|secs| now() + chrono::Duration::seconds(secs)), "{name}");
        }
        assert_eq!(RateLimits { primary: None, secondary: None, observed_at: now() }.tripped(), None);
    }

    #[test]
    fn the_active_limit_names_the_family_to_read() {
        let headers = [
            ("x-codex-primary-used-percent", "100"),
            ("x-codex-primary-reset-at", "1764003600"),
            ("x-codex-bengalfox-primary-used-percent", "30"),
            ("x-codex-bengalfox-secondary-used-percent", "100"),
            ("x-codex-bengalfox-secondary-reset-at", "1764090000"),
            ("x-codex-bengalfox-limit-name", "GPT-5.2-Codex-Sonic"),
        ];
        let table = [
            (None, "codex", None, Some(1_764_003_600), true),
            (Some("codex"), "codex", None, Some(1_764_003_600), true),
            (Some(" codex_bengalfox "), "codex_bengalfox", Some("GPT-5.2-Codex-Sonic"), Some(1_764_090_000), false),
            (Some("CODEX-BENGALFOX"), "codex-bengalfox", Some("GPT-5.2-Codex-Sonic"), Some(1_764_090_000), false),
            (Some("other"), "other", None, None, false),
        ];
        for (active, id, name, resets_at, default) in table {
            let lookup = |header: &str| match header {
                ACTIVE_LIMIT_HEADER => active,
                _ => headers.iter().find(|(k, _)| *k == header).map(|(_, v)| *v),
            };
            let limit = ActiveLimit::from_headers(lookup, now());
            assert_eq!(limit.id, id, "{active:?}");
            assert_eq!(limit.name.as_deref(), name, "{active:?}");
            assert_eq!(limit.resets_at(), resets_at.and_then(|s| DateTime::from_timestamp(s, 0)), "{active:?}");
            assert_eq!(limit.is_default(), default, "{active:?}");
        }
    }
}
