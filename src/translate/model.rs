//! Model routing: the model name a client asked for → the Codex model and the
//! reasoning effort encoded in its name.
//!
//! Rules, in order:
//! 1. A name is *Claude* if it starts with `claude` or is a bare tier alias
//!    (`haiku`, `sonnet`, `opus`), any case. Its tier is whichever of those
//!    words it contains; a trailing `[…]` such as `[1m]` is ignored.
//! 2. With passthrough on, a non-Claude name goes upstream as given. With it
//!    off, a non-Claude name is mapped like a Claude name without a tier.
//! 3. Mapping: env tier override > exact config entry (matched with and
//!    without the `[…]` suffix) > config tier model > `models.default`.
//! 4. A trailing `-none|-minimal|-low|-medium|-high|-xhigh|-max|-ultra` on
//!    the resulting name becomes the effort and is stripped: `gpt-6-sol-high`
//!    → model `gpt-6-sol`, effort `high` (`ultra` is sent as `max`).
//!    That effort is the map's default: an effort the client asks for wins.
//!    A `!` after the suffix pins it (`opus = "gpt-6-sol-xhigh!"`): then it
//!    wins over the client's, as a suffix on a passthrough name does.
//!
//! Whether the model still exists, which lane serves it and which efforts
//! it takes is decided after this, at the Codex boundary, from the live
//! catalogue (`codex::catalogue`).

use chrono::{DateTime, Utc};

use crate::codex::catalogue::{Ask, Catalogue, Plan};
use crate::codex::request::Effort;
use crate::config::{ModelMap, Settings};

/// Where a request goes upstream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// The upstream model slug, without an effort suffix.
    pub model: String,
    /// The effort named by the model's suffix, if it had one.
    pub effort: Option<Effort>,
    /// The suffix is the client's own choice (a non-Claude name it sent as
    /// is), not a default from the model map: it beats any effort the
    /// request names elsewhere.
    pub pinned: bool,
    /// The model map pinned the suffix's effort with a trailing `!`: it too
    /// beats any effort the request names. (The name is still mapped.)
    pub effort_pinned: bool,
}

/// A Claude model family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tier {
    Haiku,
    Sonnet,
    Opus,
}

/// Routes the model name a client asked for (see the module docs for the rules).
pub fn route(requested: &str, settings: &Settings) -> Route {
    let base = strip_bracket_suffix(requested);
    let (upstream, pinned) = if is_claude(base) {
        (mapped(requested, base, tier_of(base), &settings.models), false)
    } else if settings.passthrough {
        (requested.trim(), true)
    } else {
        (mapped(requested, base, None, &settings.models), false)
    };
    Route { pinned, ..split_effort(upstream) }
}

/// How a request naming `requested` (and no effort, no web search) is sent
/// today: [`route`]d, then planned against `catalogue` as of `now`. For
/// listings (`/v1/models`, `codexd models`, `status`).
pub fn plan(requested: &str, settings: &Settings, catalogue: &Catalogue, now: DateTime<Utc>) -> Plan {
    let route = route(requested, settings);
    let ask = Ask {
        slug: &route.model,
        mapped: !route.pinned,
        effort: route.effort,
        web_search: false,
        lite_policy: settings.responses_lite,
        verbosity: settings.verbosity.as_deref(),
    };
    catalogue.plan(&ask, now)
}

/// Picks the configured model for a name: env tier > exact entry > config tier > default.
fn mapped<'a>(requested: &str, base: &str, tier: Option<Tier>, models: &'a ModelMap) -> &'a str {
    let env_override = tier.and_then(|tier| match tier {
        Tier::Haiku => models.env.haiku.as_deref(),
        Tier::Sonnet => models.env.sonnet.as_deref(),
        Tier::Opus => models.env.opus.as_deref(),
    });
    let exact = || models.exact.get(requested).or_else(|| models.exact.get(base)).map(String::as_str);
    let config_tier = || {
        tier.map(|tier| match tier {
            Tier::Haiku => models.haiku.as_str(),
            Tier::Sonnet => models.sonnet.as_str(),
            Tier::Opus => models.opus.as_str(),
        })
    };
    env_override.or_else(exact).or_else(config_tier).unwrap_or(models.default.as_str())
}

/// `claude-opus-4-1[1m]` → `claude-opus-4-1`.
fn strip_bracket_suffix(name: &str) -> &str {
    let name = name.trim();
    match name.rfind('[') {
        Some(open) if name.ends_with(']') => name[..open].trim_end(),
        _ => name,
    }
}

fn is_claude(base: &str) -> bool {
    let lower = base.to_ascii_lowercase();
    lower.starts_with("claude") || matches!(lower.as_str(), "haiku" | "sonnet" | "opus")
}

fn tier_of(base: &str) -> Option<Tier> {
    let lower = base.to_ascii_lowercase();
    [("opus", Tier::Opus), ("sonnet", Tier::Sonnet), ("haiku", Tier::Haiku)]
        .into_iter()
        .find(|(word, _)| lower.contains(word))
        .map(|(_, tier)| tier)
}

/// `gpt-6-sol-high` → (`gpt-6-sol`, high). Only a whole `-word` counts, so
/// `-xhigh` is never read as `-high`. `gpt-6-sol-high!` → the same, pinned;
/// a `!` after anything but an effort suffix is dropped.
fn split_effort(name: &str) -> Route {
    let (name, pin) = match name.strip_suffix('!') {
        Some(name) => (name.trim_end(), true),
        None => (name, false),
    };
    let split = name.rsplit_once('-').and_then(|(model, suffix)| {
        let effort = Effort::from_name(suffix)?;
        (!model.is_empty()).then(|| Route {
            model: model.to_owned(),
            effort: Some(effort),
            pinned: false,
            effort_pinned: pin,
        })
    });
    split.unwrap_or_else(|| Route { model: name.to_owned(), effort: None, pinned: false, effort_pinned: false })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::TierOverrides;

    /// Settings with distinct, recognisable models per rule.
    fn settings(passthrough: bool) -> Settings {
        let mut settings = Settings::defaults();
        settings.passthrough = passthrough;
        settings.models = ModelMap {
            haiku: "cfg-haiku".into(),
            sonnet: "cfg-sonnet-medium".into(),
            opus: "gpt-5.3-codex-xhigh".into(),
            default: "cfg-default".into(),
            exact: [
                ("claude-sonnet-4-5-20250929".to_string(), "exact-sonnet-low".to_string()),
                ("claude-opus-4-1".to_string(), "exact-opus".to_string()),
                ("gpt-4o".to_string(), "exact-gpt".to_string()),
            ]
            .into_iter()
            .collect(),
            env: TierOverrides::default(),
        };
        settings
    }

    fn with_env(mut settings: Settings) -> Settings {
        settings.models.env =
            TierOverrides { haiku: None, sonnet: Some("env-sonnet-high".into()), opus: Some("env-opus".into()) };
        settings
    }

    /// A route from the model map.
    fn r(model: &str, effort: Option<Effort>) -> Route {
        Route { model: model.into(), effort, pinned: false, effort_pinned: false }
    }

    /// A route the client named itself (passthrough).
    fn p(model: &str, effort: Option<Effort>) -> Route {
        Route { model: model.into(), effort, pinned: true, effort_pinned: false }
    }

    #[test]
    fn routing_table() {
        use Effort::{High, Low, Max, Medium, Minimal, Xhigh};
        let on = settings(true);
        let off = settings(false);
        let env_on = with_env(settings(true));
        let mut pin = settings(true);
        pin.models.opus = "gpt-6-sol-xhigh!".into();
        pin.models.sonnet = "gpt-5.6-terra!".into();
        pin.models.exact.insert("claude-haiku-4-5".into(), "gpt-6-luna-low !".into());
        let table: Vec<(&str, &Settings, &str, Route)> = vec![
            // Tier words, any case, with or without a [1m] suffix.
            ("config tier: haiku", &on, "claude-3-5-haiku-20241022", r("cfg-haiku", None)),
            ("config tier: sonnet, suffix effort", &on, "claude-sonnet-4-5", r("cfg-sonnet", Some(Medium))),
            ("config tier: opus xhigh", &on, "claude-opus-4-5", r("gpt-5.3-codex", Some(Xhigh))),
            ("case-insensitive", &on, "Claude-OPUS-4-5", r("gpt-5.3-codex", Some(Xhigh))),
            ("[1m] suffix ignored", &on, "claude-haiku-4-5[1m]", r("cfg-haiku", None)),
            ("bare alias", &on, "sonnet", r("cfg-sonnet", Some(Medium))),
            ("bare alias with suffix", &on, "opus[1m]", r("gpt-5.3-codex", Some(Xhigh))),
            ("claude without tier → default", &on, "claude-instant-1", r("cfg-default", None)),
            // Exact entries beat the config tier, with and without the suffix.
            ("exact entry", &on, "claude-sonnet-4-5-20250929", r("exact-sonnet", Some(Low))),
            ("exact entry via [1m]", &on, "claude-sonnet-4-5-20250929[1m]", r("exact-sonnet", Some(Low))),
            ("exact opus", &on, "claude-opus-4-1", r("exact-opus", None)),
            // Env overrides beat everything, exact entries included.
            ("env beats exact", &env_on, "claude-sonnet-4-5-20250929", r("env-sonnet", Some(High))),
            ("env beats config tier", &env_on, "claude-opus-4-5", r("env-opus", None)),
            ("no env for haiku → config", &env_on, "claude-haiku-4-5", r("cfg-haiku", None)),
            // Passthrough on: non-Claude names go as given, effort suffix split.
            ("passthrough plain", &on, "gpt-5.2-codex", p("gpt-5.2-codex", None)),
            ("passthrough high", &on, "gpt-5.2-high", p("gpt-5.2", Some(High))),
            ("passthrough xhigh", &on, "gpt-5.3-codex-xhigh", p("gpt-5.3-codex", Some(Xhigh))),
            ("passthrough minimal", &on, "gpt-5-minimal", p("gpt-5", Some(Minimal))),
            ("passthrough max", &on, "gpt-6-sol-max", p("gpt-6-sol", Some(Max))),
            ("passthrough ultra is max", &on, "gpt-6-sol-ultra", p("gpt-6-sol", Some(Max))),
            ("passthrough none", &on, "gpt-6-luna-none", p("gpt-6-luna", Some(Effort::None))),
            ("a slug ending in a word that is no effort", &on, "gpt-6-luna", p("gpt-6-luna", None)),
            ("passthrough ignores exact", &on, "gpt-4o", p("gpt-4o", None)),
            ("tier word in non-Claude name", &on, "my-opus-clone", p("my-opus-clone", None)),
            ("env ignored for non-Claude", &env_on, "my-sonnet", p("my-sonnet", None)),
            // Passthrough off: everything is mapped.
            ("off: non-Claude → default", &off, "gpt-5.2-codex", r("cfg-default", None)),
            ("off: non-Claude exact", &off, "gpt-4o", r("exact-gpt", None)),
            ("off: Claude still mapped", &off, "claude-3-5-haiku-latest", r("cfg-haiku", None)),
            // Effort suffix edge cases.
            ("not a suffix: -highest", &on, "model-highest", p("model-highest", None)),
            ("not a suffix: nohigh", &on, "gpt-nohigh", p("gpt-nohigh", None)),
            ("suffix only is a name", &on, "-high", p("-high", None)),
            // A `!` pins the map's effort; the name stays mapped.
            ("pinned opus", &pin, "claude-opus-5-5", Route { effort_pinned: true, ..r("gpt-6-sol", Some(Xhigh)) }),
            ("pin without a suffix is dropped", &pin, "claude-sonnet-5-5", r("gpt-5.6-terra", None)),
            (
                "pinned exact entry",
                &pin,
                "claude-haiku-4-5",
                Route { effort_pinned: true, ..r("gpt-6-luna", Some(Low)) },
            ),
        ];
        for (why, settings, requested, expected) in table {
            assert_eq!(route(requested, settings), expected, "{why}: {requested}");
        }
    }

    #[test]
    fn built_in_defaults() {
        let settings = Settings::defaults();
        assert_eq!(route("claude-opus-4-1", &settings), r("gpt-6-sol", Some(Effort::High)));
        assert_eq!(route("claude-sonnet-4-5-20250929", &settings), r("gpt-5.6-terra", Some(Effort::Medium)));
        assert_eq!(route("claude-3-5-haiku-20241022", &settings), r("gpt-6-luna", Some(Effort::Low)));
        assert_eq!(route("claude-instant-1", &settings), r("gpt-5.6-terra", Some(Effort::Medium)));
    }
}
