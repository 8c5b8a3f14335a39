//! `GET /v1/models` and `GET /v1/models/{id}` in Anthropic's list format:
//! the Claude names that route (with the Codex model that answers each one
//! today, after the live catalogue's replacements), then the account's
//! models from the catalogue, then any other name the configuration uses.

use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::AppState;
use crate::anthropic::ApiError;
use crate::codex::catalogue::{Ask, Catalogue};
use crate::config::Settings;
use crate::translate::model::route;

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
}

impl ModelInfo {
    fn new(id: String, display_name: String) -> Self {
        ModelInfo { kind: "model", id, display_name, created_at: CREATED_AT }
    }
}

/// "GPT-6 Sol (high effort)": the model and effort that answer `id` today.
fn target(id: &str, settings: &Settings, catalogue: &Catalogue, now: DateTime<Utc>) -> String {
    let route = route(id, settings);
    let ask = Ask {
        slug: &route.model,
        mapped: !route.pinned,
        effort: route.effort,
        web_search: false,
        lite_policy: settings.responses_lite,
        verbosity: None,
    };
    let plan = catalogue.plan(&ask, now);
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
            ModelInfo::new((*id).to_owned(), format!("{name} → {}", target(id, settings, catalogue, now)))
        })
        .collect();
    let push = |models: &mut Vec<ModelInfo>, id: &str, name: String| {
        if !models.iter().any(|known| known.id == id) {
            models.push(ModelInfo::new(id.to_owned(), name));
        }
    };
    for model in catalogue.available(now).into_iter().filter(|m| !m.is_hidden()) {
        let name = model.display_name.clone().unwrap_or_else(|| describe(&model.slug, None));
        push(&mut models, &model.slug, name);
    }
    let m = &settings.models;
    let configured = [&m.haiku, &m.sonnet, &m.opus, &m.default]
        .into_iter()
        .chain(m.exact.values())
        .chain([&m.env.haiku, &m.env.sonnet, &m.env.opus].into_iter().flatten());
    let passthrough = Settings { passthrough: true, ..settings.clone() };
    for id in configured {
        push(&mut models, id, target(id, &passthrough, catalogue, now));
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
        let name = format!("{id} → {}", target(&id, &settings, &catalogue, Utc::now()));
        return Ok(HttpResponse::Ok().json(ModelInfo::new(id, name)));
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
}
