//! `GET /v1/models` and `GET /v1/models/{id}` in Anthropic's list format:
//! the Claude names that route (with the Codex model that answers each one
//! today, after the live catalogue's replacements), then the account's
//! models from the catalogue, then any other name the configuration uses.
//!
//! Entries carry the fields the newest SDKs declare (`lifecycle`,
//! `capabilities`, `max_input_tokens`, `max_tokens`, `deprecated_at`,
//! `retires_at`), taken from the catalogue entry of the Codex model that
//! answers; what codexd cannot know is an explicit `null`.

use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::AppState;
use crate::anthropic::ApiError;
use crate::codex::catalogue::{Catalogue, ModelInfo as CodexModel};
use crate::codex::request::Effort;
use crate::config::Settings;
use crate::translate::model;

/// Claude model ids Claude Code asks for: the tier aliases, then one per
/// tier of the newest family and the ids older versions send.
const CLAUDE_MODELS: &[(&str, &str)] = &[
    ("opus", "Claude Opus"),
    ("sonnet", "Claude Sonnet"),
    ("haiku", "Claude Haiku"),
    ("claude-opus-5-5", "Claude Opus 5.5"),
    ("claude-sonnet-5-5", "Claude Sonnet 5.5"),
    ("claude-haiku-5-5", "Claude Haiku 5.5"),
    ("claude-opus-4-8", "Claude Opus 4.8"),
    ("claude-sonnet-4-6", "Claude Sonnet 4.6"),
    ("claude-sonnet-4-5-20250929", "Claude Sonnet 4.5"),
    ("claude-haiku-4-5-20251001", "Claude Haiku 4.5"),
];

/// Anthropic's list entries carry a creation date; ours is the release of this catalogue.
const CREATED_AT: &str = "2025-01-01T00:00:00Z";

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModelInfo {
    #[serde(rename = "type")]
    kind: &'static str,
    pub id: String,
    pub display_name: String,
    pub created_at: &'static str,
    /// `active`, or `deprecated` once the catalogue names a retirement date.
    pub lifecycle: &'static str,
    /// Unknown: the catalogue says when a model retires, not since when it
    /// is deprecated.
    pub deprecated_at: Option<String>,
    pub retires_at: Option<String>,
    /// The answering model's context window.
    pub max_input_tokens: Option<u64>,
    /// Unknown: the catalogue does not say.
    pub max_tokens: Option<u64>,
    pub capabilities: Option<Value>,
}

impl ModelInfo {
    /// The entry for `id`, answered by the catalogue's `model` (when known).
    fn new(id: String, display_name: String, model: Option<&CodexModel>) -> Self {
        let retires_at = model.and_then(CodexModel::retires_at);
        ModelInfo {
            kind: "model",
            id,
            display_name,
            created_at: CREATED_AT,
            lifecycle: if retires_at.is_some() { "deprecated" } else { "active" },
            deprecated_at: None,
            retires_at: retires_at.map(|at| at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
            max_input_tokens: model.and_then(|model| model.context_window),
            max_tokens: None,
            capabilities: model.map(capabilities),
        }
    }
}

/// What a Codex model can do, in the SDK's `ModelCapabilities` shape, as
/// codexd serves it: images yes, PDFs no (the backend takes no files),
/// web search yes, code execution and batches no, structured output and
/// thinking yes, efforts as the model takes them.
fn capabilities(model: &CodexModel) -> Value {
    let yes = |supported: bool| json!({ "supported": supported });
    let efforts = model.efforts();
    let effort = |level: Effort| yes(efforts.contains(&level));
    json!({
        "batch": yes(false),
        "citations": yes(true),
        "code_execution": yes(false),
        "context_management": yes(false),
        "effort": {
            "supported": !efforts.is_empty(),
            "low": effort(Effort::Low),
            "medium": effort(Effort::Medium),
            "high": effort(Effort::High),
            "xhigh": effort(Effort::Xhigh),
            "max": effort(Effort::Max),
        },
        "image_input": yes(true),
        "pdf_input": yes(false),
        "server_tools": { "supported": true, "code_execution": yes(false), "web_search": yes(true) },
        "structured_outputs": yes(true),
        "thinking": {
            "supported": true,
            "types": { "adaptive": yes(true), "enabled": yes(true), "disabled": yes(true), "between_tools": yes(true) },
        },
    })
}

/// The catalogue entry of the model that answers `id` today.
fn answering<'a>(
    id: &str,
    settings: &Settings,
    catalogue: &'a Catalogue,
    now: DateTime<Utc>,
) -> Option<&'a CodexModel> {
    catalogue.find(&model::plan(id, settings, catalogue, now).slug)
}

/// "GPT-6 Sol (high effort)": the model and effort that answer `id` today.
fn target(id: &str, settings: &Settings, catalogue: &Catalogue, now: DateTime<Utc>) -> String {
    let plan = model::plan(id, settings, catalogue, now);
    let name =
        catalogue.find(&plan.slug).and_then(|m| m.display_name.clone()).unwrap_or_else(|| describe(&plan.slug, None));
    match plan.effort {
        Some(effort) => format!("{name} ({} effort)", effort.as_str()),
        None => name,
    }
}

/// Every model id this configuration answers to, Claude names first.
pub fn listing(settings: &Settings, catalogue: &Catalogue, now: DateTime<Utc>) -> Vec<ModelInfo> {
    let mut models: Vec<ModelInfo> = CLAUDE_MODELS
        .iter()
        .map(|(id, name)| {
            ModelInfo::new(
                (*id).to_owned(),
                format!("{name} → {}", target(id, settings, catalogue, now)),
                answering(id, settings, catalogue, now),
            )
        })
        .collect();
    let push = |models: &mut Vec<ModelInfo>, id: &str, name: String, model: Option<&CodexModel>| {
        if !models.iter().any(|known| known.id == id) {
            models.push(ModelInfo::new(id.to_owned(), name, model));
        }
    };
    for model in catalogue.available(now).into_iter().filter(|m| !m.is_hidden()) {
        let name = model.display_name.clone().unwrap_or_else(|| describe(&model.slug, None));
        push(&mut models, &model.slug, name, Some(model));
    }
    let m = &settings.models;
    let configured = [&m.haiku, &m.sonnet, &m.opus, &m.default]
        .into_iter()
        .chain(m.exact.values())
        .chain([&m.env.haiku, &m.env.sonnet, &m.env.opus].into_iter().flatten());
    let passthrough = Settings { passthrough: true, ..settings.clone() };
    for id in configured {
        // A pinned effort (`gpt-6-sol-xhigh!`) is listed as the name clients send.
        let id = id.trim_end_matches('!').trim_end();
        push(&mut models, id, target(id, &passthrough, catalogue, now), answering(id, &passthrough, catalogue, now));
    }
    models
}

/// `gpt-5.3-codex` + `xhigh` → "GPT-5.3 Codex (xhigh effort)".
fn describe(model: &str, effort: Option<&str>) -> String {
    let words: Vec<String> = model
        .split('-')
        .enumerate()
        .map(|(i, word)| match (i, word) {
            (0, w) => w.to_uppercase(),
            (_, w) if w.chars().next().is_some_and(|c| c.is_ascii_digit()) => w.to_owned(),
            (_, w) => {
                let mut chars = w.chars();
                chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
            }
        })
        .collect();
    // "GPT 5.2 Codex" reads better as "GPT-5.2 Codex".
    let mut name = words.join(" ");
    if let Some(rest) = name.strip_prefix("GPT ") {
        name = format!("GPT-{rest}");
    }
    match effort {
        Some(effort) => format!("{name} ({effort} effort)"),
        None => name,
    }
}

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    limit: Option<usize>,
    after_id: Option<String>,
    before_id: Option<String>,
}

pub async fn list(state: web::Data<AppState>, query: web::Query<ListQuery>) -> Result<HttpResponse, ApiError> {
    let all = listing(&state.settings(), &state.catalogue.current(), Utc::now());
    let limit = query.limit.unwrap_or(20);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::invalid_request("limit: must be between 1 and 1000"));
    }
    let position = |id: &str| {
        all.iter()
            .position(|m| m.id == id)
            .ok_or_else(|| ApiError::invalid_request(format!("no model with id {id:?} to page from")))
    };
    let (start, end) = match (&query.after_id, &query.before_id) {
        (Some(after), _) => {
            let start = position(after)? + 1;
            (start, (start + limit).min(all.len()))
        }
        (None, Some(before)) => {
            let end = position(before)?;
            (end.saturating_sub(limit), end)
        }
        (None, None) => (0, limit.min(all.len())),
    };
    let page = &all[start..end];
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "data": page,
        "has_more": end < all.len(),
        "first_id": page.first().map(|m| &m.id),
        "last_id": page.last().map(|m| &m.id),
    })))
}

pub async fn get(state: web::Data<AppState>, id: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let (settings, catalogue) = (state.settings(), state.catalogue.current());
    if let Some(model) = listing(&settings, &catalogue, Utc::now()).into_iter().find(|m| m.id == id) {
        return Ok(HttpResponse::Ok().json(model));
    }
    // Any Claude name routes, listed or not.
    if id.to_ascii_lowercase().starts_with("claude") {
        let now = Utc::now();
        let name = format!("{id} → {}", target(&id, &settings, &catalogue, now));
        let model = answering(&id, &settings, &catalogue, now);
        return Ok(HttpResponse::Ok().json(ModelInfo::new(id, name, model)));
    }
    Err(ApiError::not_found(format!("model: {id} is not a model codexd routes")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names() {
        let table = [
            ("gpt-5.2-codex", None, "GPT-5.2 Codex"),
            ("gpt-5.3-codex", Some("xhigh"), "GPT-5.3 Codex (xhigh effort)"),
            ("gpt-5.3-codex-spark", None, "GPT-5.3 Codex Spark"),
            ("gpt-6-luna", Some("low"), "GPT-6 Luna (low effort)"),
            ("o3", None, "O3"),
        ];
        for (model, effort, want) in table {
            assert_eq!(describe(model, effort), want);
        }
    }

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-12-06T12:00:00Z").unwrap().with_timezone(&Utc)
    }

    #[test]
    fn the_listing_has_claude_names_with_their_targets_then_the_accounts_models() {
        let mut settings = Settings::defaults();
        settings.models.exact.insert("claude-opus-4-1".into(), "gpt-5.2-codex".into());
        let catalogue = Catalogue::built_in();
        let all = listing(&settings, &catalogue, now());
        let name = |id: &str| all.iter().find(|m| m.id == id).map(|m| m.display_name.as_str());
        assert_eq!(name("sonnet"), Some("Claude Sonnet → GPT-5.6 Terra (medium effort)"));
        assert_eq!(name("claude-opus-5-5"), Some("Claude Opus 5.5 → GPT-6 Sol (high effort)"));
        assert_eq!(name("haiku"), Some("Claude Haiku → GPT-6 Luna (low effort)"));
        let codex: Vec<&str> = all.iter().skip(CLAUDE_MODELS.len()).map(|m| m.id.as_str()).collect();
        assert_eq!(codex[..3], ["gpt-6-sol", "gpt-5.6-terra", "gpt-6-luna"], "the catalogue's order");
        assert!(!codex.contains(&"gpt-5.5"), "retired models are not offered");
        // A configured name that is gone says what answers instead.
        assert_eq!(name("gpt-5.2-codex"), Some("GPT-5.6 Terra (medium effort)"));
        assert!(all.iter().all(|m| m.created_at == CREATED_AT && m.kind == "model"));
    }

    /// The fields the newest SDK's `ModelInfo` declares, every one present.
    #[test]
    fn entries_carry_the_newest_sdk_fields() {
        let settings = Settings::defaults();
        let catalogue = Catalogue::built_in();
        let all = listing(&settings, &catalogue, now());
        for entry in &all {
            let value = serde_json::to_value(entry).unwrap();
            for field in ["lifecycle", "capabilities", "max_input_tokens", "max_tokens", "deprecated_at", "retires_at"]
            {
                assert!(value.as_object().unwrap().contains_key(field), "{field} in {value}");
            }
            assert!(["active", "deprecated"].contains(&entry.lifecycle));
        }
        let sol = serde_json::to_value(all.iter().find(|m| m.id == "claude-opus-5-5").unwrap()).unwrap();
        let known = catalogue.find("gpt-6-sol").unwrap();
        assert_eq!(sol["max_input_tokens"], json!(known.context_window));
        assert_eq!(sol["max_tokens"], Value::Null);
        assert_eq!(sol["deprecated_at"], Value::Null);
        assert_eq!(sol["capabilities"]["structured_outputs"]["supported"], true);
        assert_eq!(sol["capabilities"]["pdf_input"]["supported"], false);
        assert_eq!(sol["capabilities"]["effort"]["high"]["supported"], known.efforts().contains(&Effort::High));
        // A model the catalogue retires is deprecated, with the date.
        let retiring = all.iter().find(|m| m.retires_at.is_some());
        if let Some(retiring) = retiring {
            assert_eq!(retiring.lifecycle, "deprecated");
        }
    }

    #[test]
    fn a_pinned_mapping_is_listed_without_its_pin() {
        let mut settings = Settings::defaults();
        settings.models.opus = "gpt-5.2-codex-xhigh!".into();
        let all = listing(&settings, &Catalogue::built_in(), now());
        assert!(all.iter().all(|m| !m.id.ends_with('!')));
        assert!(all.iter().any(|m| m.id == "gpt-5.2-codex-xhigh"));
    }
}
