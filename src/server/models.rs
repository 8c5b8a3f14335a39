//! `GET /v1/models` and `GET /v1/models/{id}` in Anthropic's list format:
//! the Claude names that route (with the Codex model each one reaches) and
//! the Codex models the configuration can reach, each with a display name.

use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};

use super::AppState;
use crate::anthropic::ApiError;
use crate::config::Settings;
use crate::translate::model::route;

/// Claude model ids Claude Code asks for, one per tier and generation.
const CLAUDE_MODELS: &[(&str, &str)] = &[
    ("claude-opus-4-1-20250805", "Claude Opus 4.1"),
    ("claude-sonnet-4-5-20250929", "Claude Sonnet 4.5"),
    ("claude-haiku-4-5-20251001", "Claude Haiku 4.5"),
    ("claude-3-5-haiku-20241022", "Claude Haiku 3.5"),
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

/// Every model id this configuration answers to, Claude names first.
pub fn catalogue(settings: &Settings) -> Vec<ModelInfo> {
    let mut models: Vec<ModelInfo> = CLAUDE_MODELS
        .iter()
        .map(|(id, name)| {
            let target = route(id, settings);
            ModelInfo::new(
                (*id).to_owned(),
                format!("{name} → {}", describe(&target.model, target.effort.map(|e| e.as_str()))),
            )
        })
        .collect();
    let m = &settings.models;
    let configured = [&m.haiku, &m.sonnet, &m.opus, &m.default]
        .into_iter()
        .chain(m.exact.values())
        .chain([&m.env.haiku, &m.env.sonnet, &m.env.opus].into_iter().flatten());
    for id in configured {
        if !models.iter().any(|known| &known.id == id) {
            let target = route(id, &Settings { passthrough: true, ..settings.clone() });
            models.push(ModelInfo::new(id.clone(), describe(&target.model, target.effort.map(|e| e.as_str()))));
        }
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
    let all = catalogue(&state.settings());
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
    if let Some(model) = catalogue(&state.settings()).into_iter().find(|m| m.id == id) {
        return Ok(HttpResponse::Ok().json(model));
    }
    // Any Claude name routes, listed or not.
    if id.to_ascii_lowercase().starts_with("claude") {
        let target = route(&id, &state.settings());
        let name = format!("{id} → {}", describe(&target.model, target.effort.map(|e| e.as_str())));
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
            ("o3", None, "O3"),
        ];
        for (model, effort, want) in table {
            assert_eq!(describe(model, effort), want);
        }
    }

    #[test]
    fn catalogue_lists_claude_names_with_their_targets_then_codex_models() {
        let settings = Settings::defaults();
        let all = catalogue(&settings);
        let sonnet = all.iter().find(|m| m.id == "claude-sonnet-4-5-20250929").unwrap();
        assert_eq!(sonnet.display_name, "Claude Sonnet 4.5 → GPT-5.2 Codex");
        let opus = all.iter().find(|m| m.id == "claude-opus-4-1-20250805").unwrap();
        assert_eq!(opus.display_name, "Claude Opus 4.1 → GPT-5.3 Codex (xhigh effort)");
        let codex: Vec<&str> = all.iter().skip(CLAUDE_MODELS.len()).map(|m| m.id.as_str()).collect();
        assert_eq!(codex, ["gpt-5.3-codex-spark", "gpt-5.2-codex", "gpt-5.3-codex-xhigh"]);
        assert!(all.iter().all(|m| m.created_at == CREATED_AT && m.kind == "model"));
    }
}
