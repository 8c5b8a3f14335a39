//! The live model catalogue: which models the account can use today, and
//! how each must be asked for.
//!
//! The backend retires models every two to three months and gates new ones
//! on the client version, so no table in codexd stays true for long. The
//! catalogue is read from `GET {codex_base_url}/codex/models?client_version=`
//! (the Codex CLI's models manager reads the same list) at start-up and
//! hourly, and its last good copy is kept on disk next to the tokens
//! (`models.json`). Until one has been read, a built-in copy of late 2026
//! stands in ([`Source::BuiltIn`]).
//!
//! A request's model is [`Catalogue::plan`]ned here, after translation:
//! - a model the catalogue says is gone (its `upgrade.retirement_at` has
//!   passed, a model codexd knows was retired, or — for names from the model
//!   map — one the account's catalogue no longer lists) is replaced by its
//!   `upgrade` target, else by the catalogue's default, never sent as is;
//! - the lane: Responses Lite for models that only it serves (the Luna
//!   family) or, with `responses_lite = "always"`, for every model flagged
//!   `use_responses_lite`; a Lite-only model asked to search the web is moved
//!   to its full-lane sibling, since hosted tools do not exist on Lite;
//! - the effort is clamped to the model's `supported_reasoning_levels`
//!   (`none`/`minimal` rise to its lowest level), or is its default;
//! - `text.verbosity` is the setting, else the model's default (`low`).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use super::lane::Lane;
use super::request::{Effort, Reasoning, ResponsesRequest, TextControls, Tool, Verbosity};
use crate::config::{LitePolicy, Settings};

/// One model as `/codex/models` describes it. Only the fields codexd uses
/// are kept; any other field, and any null, is tolerated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelInfo {
    pub slug: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_reasoning_level: Option<String>,
    #[serde(default, deserialize_with = "or_default", skip_serializing_if = "Vec::is_empty")]
    pub supported_reasoning_levels: Vec<ReasoningLevel>,
    /// `list` or `hide` (not offered in pickers, still usable).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visibility: Option<String>,
    /// Lower comes first in the Codex CLI's picker.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minimal_client_version: Option<String>,
    #[serde(default, deserialize_with = "or_default")]
    pub use_responses_lite: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upgrade: Option<Upgrade>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_verbosity: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_window: Option<u64>,
}

/// An entry of `supported_reasoning_levels`: `{"effort":"low","description":…}`
/// (or, tolerated, a bare `"low"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ReasoningLevel {
    Described { effort: String },
    Bare(String),
}

impl ReasoningLevel {
    fn name(&self) -> &str {
        match self {
            ReasoningLevel::Described { effort } | ReasoningLevel::Bare(effort) => effort,
        }
    }
}

/// `upgrade`: the model that replaces this one, and when this one retires.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Upgrade {
    pub model: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retirement_at: Option<String>,
}

/// `null` reads as the default, like a missing field.
fn or_default<'de, D: Deserializer<'de>, T: Default + Deserialize<'de>>(deserializer: D) -> Result<T, D::Error> {
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

impl ModelInfo {
    /// The efforts this model takes, lowest first (`ultra` counts as `max`).
    pub fn efforts(&self) -> Vec<Effort> {
        let mut efforts: Vec<Effort> =
            self.supported_reasoning_levels.iter().filter_map(|level| Effort::from_name(level.name())).collect();
        efforts.sort();
        efforts.dedup();
        efforts
    }

    pub fn default_effort(&self) -> Option<Effort> {
        self.default_reasoning_level.as_deref().and_then(Effort::from_name)
    }

    /// When the model retires (or retired), if the catalogue says.
    pub fn retires_at(&self) -> Option<DateTime<Utc>> {
        let at = self.upgrade.as_ref()?.retirement_at.as_deref()?;
        DateTime::parse_from_rfc3339(at).ok().map(|at| at.with_timezone(&Utc))
    }

    pub fn is_retired(&self, now: DateTime<Utc>) -> bool {
        self.retires_at().is_some_and(|at| at <= now)
    }

    pub fn is_hidden(&self) -> bool {
        self.visibility.as_deref() == Some("hide")
    }

    /// Only the Responses Lite lane serves it: the Luna family (the full
    /// lane answers "model not found" for them).
    pub fn is_lite_only(&self) -> bool {
        is_lite_only(&self.slug)
    }
}

fn is_lite_only(slug: &str) -> bool {
    slug.rsplit('-').next() == Some("luna")
}

/// Models codexd knows were retired for ChatGPT logins, with the model that
/// took over (`codex-2026.md` §1c). Consulted when a catalogue does not list
/// a model at all.
const RETIRED: &[(&str, &str)] = &[
    ("gpt-5.5", "gpt-5.6-sol"),
    ("gpt-5.4", "gpt-5.6-terra"),
    ("gpt-5.4-mini", "gpt-5.6-luna"),
    ("gpt-5.3-codex", "gpt-5.6-sol"),
    ("gpt-5.2-codex", "gpt-5.6-terra"),
    ("gpt-5.2", "gpt-5.6-terra"),
    ("gpt-5.1-codex-max", "gpt-5.6-sol"),
    ("gpt-5.1-codex", "gpt-5.6-terra"),
    ("gpt-5.1-codex-mini", "gpt-5.6-luna"),
    ("gpt-5.1", "gpt-5.6-terra"),
    ("gpt-5-codex", "gpt-5.6-terra"),
    ("gpt-5-codex-mini", "gpt-5.6-luna"),
    ("gpt-5", "gpt-5.6-terra"),
];

/// codexd's own copy of the catalogue, parsed once.
static BUILT_IN: std::sync::LazyLock<Vec<ModelInfo>> =
    std::sync::LazyLock::new(|| parse_models(include_str!("builtin_models.json").as_bytes()).unwrap_or_default());

/// Where the catalogue in use came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Source {
    /// Read from the backend by this process.
    Live { fetched_at: DateTime<Utc> },
    /// The last good copy on disk, read by an earlier run.
    Disk { fetched_at: DateTime<Utc> },
    /// codexd's own copy: no catalogue has been read yet.
    BuiltIn,
}

impl Source {
    /// "live, read 2026-12-06 12:00 UTC", "built in (…)".
    pub fn describe(&self) -> String {
        match self {
            Source::Live { fetched_at } => format!("live, read {}", fetched_at.format("%Y-%m-%d %H:%M UTC")),
            Source::Disk { fetched_at } => {
                format!("the copy on disk from {}", fetched_at.format("%Y-%m-%d %H:%M UTC"))
            }
            Source::BuiltIn => "codexd's built-in list (the account's catalogue has not been read)".to_owned(),
        }
    }
}

/// The models of one catalogue, and where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Catalogue {
    pub models: Vec<ModelInfo>,
    pub source: Source,
}

/// Why a catalogue answer could not be used.
#[derive(Debug, thiserror::Error)]
#[error("the model catalogue is not usable: {0}")]
pub struct CatalogueError(String);

/// The file kept on disk: the last catalogue read from the backend.
#[derive(Serialize, Deserialize)]
struct DiskCopy {
    fetched_at: DateTime<Utc>,
    client_version: String,
    models: Vec<ModelInfo>,
}

impl Catalogue {
    /// codexd's own copy, used until the account's has been read.
    pub fn built_in() -> Self {
        Catalogue { models: BUILT_IN.clone(), source: Source::BuiltIn }
    }

    /// A `/codex/models` answer (`{"models":[…]}`). Entries that cannot be
    /// read are skipped; an answer with no usable entry is refused.
    pub fn from_answer(body: &[u8], fetched_at: DateTime<Utc>) -> Result<Self, CatalogueError> {
        let models = parse_models(body)?;
        if models.is_empty() {
            return Err(CatalogueError("it lists no models".into()));
        }
        Ok(Catalogue { models, source: Source::Live { fetched_at } })
    }

    /// The copy on disk, if there is a readable one.
    pub fn read_disk(path: &Path) -> Option<Self> {
        let bytes = std::fs::read(path).ok()?;
        let copy: DiskCopy = serde_json::from_slice(&bytes).ok()?;
        (!copy.models.is_empty())
            .then_some(Catalogue { models: copy.models, source: Source::Disk { fetched_at: copy.fetched_at } })
    }

    /// Keep this catalogue on disk (atomically, 0600) for the next start.
    pub fn write_disk(&self, path: &Path, client_version: &str) -> std::io::Result<()> {
        let fetched_at = match self.source {
            Source::Live { fetched_at } | Source::Disk { fetched_at } => fetched_at,
            Source::BuiltIn => return Ok(()),
        };
        let copy = DiskCopy { fetched_at, client_version: client_version.to_owned(), models: self.models.clone() };
        let json = serde_json::to_vec_pretty(&copy).map_err(std::io::Error::other)?;
        let dir = path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir)?;
        let mut file = tempfile::NamedTempFile::new_in(dir)?;
        std::io::Write::write_all(&mut file, &json)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            file.as_file().set_permissions(std::fs::Permissions::from_mode(0o600))?;
        }
        file.persist(path).map_err(|e| e.error)?;
        Ok(())
    }

    pub fn find(&self, slug: &str) -> Option<&ModelInfo> {
        self.models.iter().find(|model| model.slug == slug)
    }

    /// Whether the account's catalogue (not the built-in one) is in use:
    /// only then does "not listed" mean "not available".
    pub fn is_authoritative(&self) -> bool {
        !matches!(self.source, Source::BuiltIn)
    }

    /// The model used when another has no successor: the first visible,
    /// unretired model in the catalogue's own order (`priority`).
    pub fn default_model(&self, now: DateTime<Utc>) -> Option<&ModelInfo> {
        let usable = self.models.iter().filter(|m| !m.is_hidden() && !m.is_retired(now));
        usable.min_by_key(|m| m.priority.unwrap_or(i64::MAX))
    }

    /// The models a user can pick today, in the catalogue's order.
    pub fn available(&self, now: DateTime<Utc>) -> Vec<&ModelInfo> {
        let mut models: Vec<&ModelInfo> = self.models.iter().filter(|m| !m.is_retired(now)).collect();
        models.sort_by_key(|m| m.priority.unwrap_or(i64::MAX));
        models
    }

    /// What replaces `slug`, if the catalogue says it is gone; `mapped`
    /// says the name came from the model map rather than from the client
    /// (then "no longer listed" also counts as gone).
    pub fn replacement(&self, slug: &str, mapped: bool, now: DateTime<Utc>) -> Option<Replacement> {
        let built_in = |slug: &str| BUILT_IN.iter().find(|m| m.slug == slug);
        let mut current = slug.to_owned();
        let mut why: Option<String> = None;
        // Follow upgrades until a model that is listed and not retired; a
        // cycle or a long chain ends at the default.
        for _ in 0..8 {
            let listed = self.find(&current);
            match listed {
                Some(model) if !model.is_retired(now) => {
                    return why.map(|why| Replacement { from: slug.to_owned(), to: current, why });
                }
                Some(model) => {
                    let date = model.retires_at().map(|at| at.format("%Y-%m-%d").to_string()).unwrap_or_default();
                    why.get_or_insert_with(|| format!("{} retired on {date}", model.slug));
                    match &model.upgrade {
                        Some(upgrade) => current = upgrade.model.clone(),
                        None => break,
                    }
                }
                None => {
                    let known_retired = RETIRED.iter().find(|(old, _)| *old == current).map(|(_, new)| *new);
                    let built_in_next = built_in(&current).and_then(|m| m.upgrade.as_ref()).map(|u| &u.model);
                    let unlisted = self.is_authoritative() && (mapped || why.is_some());
                    if known_retired.is_none() && !unlisted {
                        // A name the catalogue cannot judge: it goes as given.
                        return why.map(|why| Replacement { from: slug.to_owned(), to: current, why });
                    }
                    why.get_or_insert_with(|| match known_retired {
                        Some(_) => format!("{current} was retired"),
                        None => format!("{current} is not in the account's model catalogue"),
                    });
                    match known_retired.map(str::to_owned).or_else(|| built_in_next.cloned()) {
                        Some(next) => current = next,
                        None => break,
                    }
                }
            }
        }
        let default = self.default_model(now)?;
        Some(Replacement {
            from: slug.to_owned(),
            to: default.slug.clone(),
            why: why.unwrap_or_else(|| format!("{slug} has no successor that is available")),
        })
    }

    /// How to send a request for `slug` (see the module docs).
    pub fn plan(&self, ask: &Ask<'_>, now: DateTime<Utc>) -> Plan {
        let mut replaced = self.replacement(ask.slug, ask.mapped, now);
        let mut slug = replaced.as_ref().map_or(ask.slug.to_owned(), |r| r.to.clone());
        let mut lane = self.lane_for(&slug, ask.lite_policy);
        if lane == Lane::Lite && ask.web_search {
            let sibling = slug.strip_suffix("luna").map(|stem| format!("{stem}sol"));
            let full_lane = sibling
                .filter(|s| self.find(s).is_some_and(|m| !m.is_retired(now)))
                .or_else(|| self.default_model(now).map(|m| m.slug.clone()))
                .filter(|s| !is_lite_only(s));
            if let Some(full_lane) = full_lane {
                let why = format!("{slug} is served only over Responses Lite, which has no hosted web search");
                replaced = Some(Replacement { from: ask.slug.to_owned(), to: full_lane.clone(), why });
                slug = full_lane;
                lane = Lane::Responses;
            }
        }
        let model = self.find(&slug);
        let effort = clamp_effort(ask.effort, model);
        let verbosity = ask
            .verbosity
            .or_else(|| model.and_then(|m| m.default_verbosity.as_deref()))
            .and_then(verbosity_from_name)
            .unwrap_or(Verbosity::Low);
        Plan { slug, lane, effort, verbosity, replaced }
    }

    fn lane_for(&self, slug: &str, policy: LitePolicy) -> Lane {
        let flagged = self.find(slug).map_or(is_lite_only(slug), |m| m.use_responses_lite);
        let lite = flagged && (policy == LitePolicy::Always || is_lite_only(slug));
        if lite {
            Lane::Lite
        } else {
            Lane::Responses
        }
    }
}

fn parse_models(body: &[u8]) -> Result<Vec<ModelInfo>, CatalogueError> {
    let value: Value = serde_json::from_slice(body).map_err(|e| CatalogueError(format!("not JSON ({e})")))?;
    let entries = value
        .get("models")
        .and_then(Value::as_array)
        .ok_or_else(|| CatalogueError("no `models` list in the answer".into()))?;
    Ok(entries.iter().filter_map(|entry| ModelInfo::deserialize(entry).ok()).collect())
}

fn verbosity_from_name(name: &str) -> Option<Verbosity> {
    match name {
        "low" => Some(Verbosity::Low),
        "medium" => Some(Verbosity::Medium),
        "high" => Some(Verbosity::High),
        _ => None,
    }
}

/// The effort to send: the one asked for, within the model's levels; the
/// model's default when none is asked for. `none` and `minimal` are refused
/// by every current model, so they rise to the lowest level.
pub fn clamp_effort(asked: Option<Effort>, model: Option<&ModelInfo>) -> Option<Effort> {
    let levels = model.map(ModelInfo::efforts).unwrap_or_default();
    let Some(asked) = asked else {
        return model.and_then(ModelInfo::default_effort).filter(|e| levels.is_empty() || levels.contains(e));
    };
    let (Some(&lowest), Some(&highest)) = (levels.first(), levels.last()) else {
        return Some(asked.max(Effort::Low));
    };
    if levels.contains(&asked) {
        Some(asked)
    } else if asked < lowest {
        Some(lowest)
    } else if asked > highest {
        Some(highest)
    } else {
        levels.iter().rev().find(|level| **level < asked).copied().or(Some(lowest))
    }
}

/// What a request asks of the catalogue.
#[derive(Debug, Clone)]
pub struct Ask<'a> {
    pub slug: &'a str,
    /// The name came from the model map, not from the client.
    pub mapped: bool,
    pub effort: Option<Effort>,
    pub web_search: bool,
    pub lite_policy: LitePolicy,
    /// The `verbosity` setting, if set.
    pub verbosity: Option<&'a str>,
}

impl<'a> Ask<'a> {
    /// What `request` asks for; `mapped` as in [`Ask::mapped`].
    pub fn of(request: &'a ResponsesRequest, mapped: bool, settings: &'a Settings) -> Self {
        Ask {
            slug: &request.model,
            mapped,
            effort: request.reasoning.as_ref().and_then(|r| r.effort),
            web_search: request.tools.iter().any(|tool| matches!(tool, Tool::WebSearch { .. })),
            lite_policy: settings.responses_lite,
            verbosity: settings.verbosity.as_deref(),
        }
    }
}

/// How a request is sent.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub slug: String,
    pub lane: Lane,
    pub effort: Option<Effort>,
    pub verbosity: Verbosity,
    /// Set when `slug` is not the model asked for.
    pub replaced: Option<Replacement>,
}

/// A model that was asked for and why another answers instead.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Replacement {
    pub from: String,
    pub to: String,
    pub why: String,
}

impl Plan {
    /// Put the plan's model, effort and verbosity into the request; a
    /// structured output format already in `text` is kept.
    pub fn apply(&self, request: &mut ResponsesRequest) {
        request.model.clone_from(&self.slug);
        let reasoning = request.reasoning.get_or_insert(Reasoning { effort: None, summary: None, context: None });
        reasoning.effort = self.effort;
        request.text.get_or_insert(TextControls { verbosity: None, format: None }).verbosity = Some(self.verbosity);
    }
}

impl std::fmt::Display for Replacement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} → {} ({})", self.from, self.to, self.why)
    }
}

/// The daemon's catalogue: the one in force, replaced whole when a new one
/// is read, and the replacements made so far (each logged once).
pub struct CatalogueHandle {
    current: RwLock<Arc<Catalogue>>,
    replacements: Mutex<BTreeMap<String, Replacement>>,
    last_error: Mutex<Option<String>>,
}

/// What `/health`, `status` and `doctor` show of the catalogue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CatalogueStatus {
    pub source: Source,
    pub models: usize,
    /// Why the last read failed, if it did.
    pub last_error: Option<String>,
    /// Models asked for that another model answered, and why.
    pub replacements: Vec<Replacement>,
}

impl CatalogueHandle {
    /// The copy on disk, else the built-in one.
    pub fn load(settings: &Settings) -> Self {
        let catalogue = Catalogue::read_disk(&settings.catalogue_path()).unwrap_or_else(Catalogue::built_in);
        CatalogueHandle {
            current: RwLock::new(Arc::new(catalogue)),
            replacements: Mutex::new(BTreeMap::new()),
            last_error: Mutex::new(None),
        }
    }

    pub fn current(&self) -> Arc<Catalogue> {
        self.current.read().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
    }

    /// Put a newly read catalogue in force.
    pub fn replace(&self, catalogue: Catalogue) {
        *self.current.write().unwrap_or_else(|poisoned| poisoned.into_inner()) = Arc::new(catalogue);
        *self.last_error.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = None;
        // Earlier replacements are judged again against the new list.
        self.replacements.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clear();
    }

    pub fn record_error(&self, error: String) {
        *self.last_error.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(error);
    }

    /// [`Catalogue::plan`] with the catalogue in force; a replacement is
    /// logged the first time it is made.
    pub fn plan(&self, ask: &Ask<'_>) -> Plan {
        let plan = self.current().plan(ask, Utc::now());
        if let Some(replaced) = &plan.replaced {
            let mut seen = self.replacements.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            if seen.get(&replaced.from) != Some(replaced) {
                tracing::warn!(
                    asked = ?replaced.from,
                    sent = %replaced.to,
                    why = %replaced.why,
                    "model replaced: set another in the [models] map or pick one from `codexd models`"
                );
                seen.insert(replaced.from.clone(), replaced.clone());
            }
        }
        plan
    }

    pub fn status(&self) -> CatalogueStatus {
        let current = self.current();
        CatalogueStatus {
            source: current.source.clone(),
            models: current.models.len(),
            last_error: self.last_error.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone(),
            replacements: self
                .replacements
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .values()
                .cloned()
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-12-06T12:00:00Z").unwrap().with_timezone(&Utc)
    }

    /// A catalogue as the account's backend would answer it in December 2026.
    fn live() -> Catalogue {
        let body = json!({"models": [
            {"slug":"gpt-6-sol","display_name":"GPT-6 Sol","default_reasoning_level":"medium",
             "supported_reasoning_levels":[{"effort":"low","description":"x"},{"effort":"medium"},{"effort":"high"},{"effort":"xhigh"},{"effort":"ultra"}],
             "visibility":"list","priority":1,"minimal_client_version":"0.155.0","use_responses_lite":true,"default_verbosity":"low",
             "some_new_field": {"nested": true}},
            {"slug":"gpt-5.6-terra","default_reasoning_level":"medium",
             "supported_reasoning_levels":[{"effort":"low"},{"effort":"medium"},{"effort":"high"}],
             "visibility":"list","priority":2,"use_responses_lite":true,"default_verbosity":"low","upgrade":null},
            {"slug":"gpt-6-luna","supported_reasoning_levels":["low","medium","high","max"],
             "visibility":"list","priority":3,"use_responses_lite":true},
            {"slug":"gpt-5.6-sol","supported_reasoning_levels":[{"effort":"low"},{"effort":"high"}],"visibility":"list","priority":4,
             "use_responses_lite":true,"upgrade":{"model":"gpt-6-sol","migration_markdown":"…","retirement_at":"2026-11-30T00:00:00Z"}},
            {"slug":"gpt-reserve","visibility":"hide","priority":0,"use_responses_lite":null},
            {"display_name":"an entry without a slug is skipped"}
        ]});
        Catalogue::from_answer(body.to_string().as_bytes(), now()).unwrap()
    }

    fn ask(slug: &str) -> Ask<'_> {
        Ask { slug, mapped: true, effort: None, web_search: false, lite_policy: LitePolicy::Auto, verbosity: None }
    }

    #[test]
    fn the_answer_is_read_tolerantly() {
        let catalogue = live();
        assert_eq!(catalogue.models.len(), 5, "the entry without a slug is skipped");
        let sol = catalogue.find("gpt-6-sol").unwrap();
        assert_eq!(sol.efforts(), [Effort::Low, Effort::Medium, Effort::High, Effort::Xhigh, Effort::Max]);
        assert_eq!(catalogue.find("gpt-6-luna").unwrap().efforts().last(), Some(&Effort::Max));
        assert!(!catalogue.find("gpt-reserve").unwrap().use_responses_lite, "null is false");
        assert!(Catalogue::from_answer(b"{\"models\":[]}", now()).is_err());
        assert!(Catalogue::from_answer(b"<html>", now()).is_err());
        assert!(Catalogue::built_in().models.len() >= 6, "the built-in copy parses");
    }

    #[test]
    fn retired_and_vanished_models_are_replaced() {
        let c = live();
        let table: Vec<(&str, bool, Option<&str>)> = vec![
            // Listed and current: as asked.
            ("gpt-6-sol", true, None),
            ("gpt-reserve", false, None),
            // Listed with a retirement date that has passed: its upgrade.
            ("gpt-5.6-sol", false, Some("gpt-6-sol")),
            // Known retired, listed nowhere: the successor, following upgrades.
            ("gpt-5.5", false, Some("gpt-6-sol")),
            ("gpt-5.2-codex", false, Some("gpt-5.6-terra")),
            ("gpt-5.3-codex", true, Some("gpt-6-sol")),
            // Not listed, from the map: the catalogue's default.
            ("gpt-5.3-codex-spark", true, Some("gpt-6-sol")),
            // Not listed, typed by the client: the backend decides.
            ("gpt-5.3-codex-spark", false, None),
        ];
        for (slug, mapped, want) in table {
            let got = c.replacement(slug, mapped, now()).map(|r| r.to);
            assert_eq!(got.as_deref(), want, "{slug} mapped={mapped}");
        }
        let why = c.replacement("gpt-5.6-sol", false, now()).unwrap().why;
        assert!(why.contains("retired on 2026-11-30"), "{why}");
        assert_eq!(c.default_model(now()).unwrap().slug, "gpt-6-sol", "hidden models are never the default");
    }

    #[test]
    fn the_built_in_list_judges_only_what_it_knows() {
        let c = Catalogue::built_in();
        assert_eq!(c.replacement("gpt-5.2-codex", true, now()).map(|r| r.to).as_deref(), Some("gpt-5.6-terra"));
        assert_eq!(c.replacement("gpt-5.5", false, now()).map(|r| r.to).as_deref(), Some("gpt-5.6-sol"));
        assert_eq!(c.replacement("gpt-7-nova", true, now()), None, "an unknown model may be newer than the list");
    }

    #[test]
    fn lanes() {
        let c = live();
        let lane = |slug: &str, policy: LitePolicy| {
            c.plan(&Ask { lite_policy: policy, mapped: false, ..ask(slug) }, now()).lane
        };
        assert_eq!(lane("gpt-6-luna", LitePolicy::Auto), Lane::Lite, "Luna exists only on Lite");
        assert_eq!(lane("gpt-6-sol", LitePolicy::Auto), Lane::Responses, "the full lane keeps parallel calls");
        assert_eq!(lane("gpt-6-sol", LitePolicy::Always), Lane::Lite, "as the Codex CLI does");
        assert_eq!(lane("gpt-reserve", LitePolicy::Always), Lane::Responses, "not flagged");
        assert_eq!(lane("gpt-9-luna", LitePolicy::Auto), Lane::Lite, "an unlisted Luna too");
    }

    #[test]
    fn web_search_moves_a_lite_only_model_to_its_full_lane_sibling() {
        let c = live();
        let plan = c.plan(&Ask { web_search: true, ..ask("gpt-6-luna") }, now());
        assert_eq!((plan.slug.as_str(), plan.lane), ("gpt-6-sol", Lane::Responses));
        assert!(plan.replaced.unwrap().why.contains("web search"));
        let plain = c.plan(&Ask { web_search: true, ..ask("gpt-5.6-terra") }, now());
        assert_eq!((plain.slug.as_str(), plain.lane, plain.replaced), ("gpt-5.6-terra", Lane::Responses, None));
    }

    #[test]
    fn efforts_are_clamped_to_the_models_levels() {
        use Effort::*;
        let c = live();
        let effort = |slug: &str, asked: Option<Effort>| c.plan(&Ask { effort: asked, ..ask(slug) }, now()).effort;
        let table = [
            ("gpt-5.6-terra", Some(Medium), Some(Medium)),
            ("gpt-5.6-terra", Some(Minimal), Some(Low)),
            ("gpt-5.6-terra", Some(None), Some(Low)),
            ("gpt-5.6-terra", Some(Max), Some(High)),
            ("gpt-5.6-terra", Option::None, Some(Medium)),
            ("gpt-6-sol", Some(Max), Some(Max)),
            ("gpt-6-luna", Some(Xhigh), Some(High)),
            ("gpt-6-luna", Option::None, Option::None),
            ("gpt-unknown", Some(Minimal), Some(Low)),
            ("gpt-unknown", Some(Xhigh), Some(Xhigh)),
        ];
        for (slug, asked, want) in table {
            assert_eq!(effort(slug, asked), want, "{slug} {asked:?}");
        }
    }

    #[test]
    fn verbosity_is_the_setting_else_the_models_default_else_low() {
        let c = live();
        assert_eq!(c.plan(&ask("gpt-6-sol"), now()).verbosity, Verbosity::Low);
        assert_eq!(c.plan(&Ask { verbosity: Some("high"), ..ask("gpt-6-sol") }, now()).verbosity, Verbosity::High);
        assert_eq!(c.plan(&ask("gpt-unknown"), now()).verbosity, Verbosity::Low);
    }

    #[test]
    fn the_disk_copy_round_trips_and_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("home").join("models.json");
        let c = live();
        c.write_disk(&path, "0.157.1").unwrap();
        let back = Catalogue::read_disk(&path).unwrap();
        assert_eq!(back.models, c.models);
        assert_eq!(back.source, Source::Disk { fetched_at: now() });
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
        std::fs::write(&path, b"{broken").unwrap();
        assert!(Catalogue::read_disk(&path).is_none());
    }

    #[test]
    fn a_replacement_is_logged_once_and_shown_in_the_status() {
        let settings = Settings { home: tempfile::tempdir().unwrap().path().to_path_buf(), ..Settings::defaults() };
        let handle = CatalogueHandle::load(&settings);
        assert_eq!(handle.status().source, Source::BuiltIn);
        handle.replace(live());
        handle.plan(&ask("gpt-5.2-codex"));
        handle.plan(&ask("gpt-5.2-codex"));
        let status = handle.status();
        assert_eq!(status.replacements.len(), 1);
        assert_eq!(status.replacements[0].to, "gpt-5.6-terra");
        assert_eq!(status.models, 5);
    }
}
