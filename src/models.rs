//! `codexd models`: the models this ChatGPT account can use today, from the
//! live catalogue, and which of them answers each Claude tier; plus the tier
//! report that `status` and `doctor` show.
//!
//! The command reads the catalogue itself (it works without a running
//! daemon), keeps the copy on disk up to date, and falls back to that copy,
//! or to codexd's built-in list, when the backend cannot be reached.

use std::process::ExitCode;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::auth::Auth;
use crate::codex::catalogue::{Ask, Catalogue, Plan, Replacement};
use crate::codex::client::CodexClient;
use crate::codex::identity::Caller;
use crate::codex::lane::Lane;
use crate::config::Settings;

/// What answers one Claude tier today.
#[derive(Debug, Clone, Serialize)]
pub struct TierLine {
    /// `opus`, `sonnet`, `haiku` or `default`.
    pub tier: &'static str,
    /// The model the configuration names (with its effort suffix).
    pub configured: String,
    pub model: String,
    pub effort: Option<&'static str>,
    pub lane: Lane,
    /// Set when the configured model is gone and another answers.
    pub replaced: Option<Replacement>,
}

/// The tiers as Claude Code asks for them, and what answers each.
pub fn tier_report(settings: &Settings, catalogue: &Catalogue, now: DateTime<Utc>) -> Vec<TierLine> {
    let m = &settings.models;
    let tiers: [(&'static str, &str, &str); 4] = [
        ("opus", "claude-opus", m.env.opus.as_deref().unwrap_or(&m.opus)),
        ("sonnet", "claude-sonnet", m.env.sonnet.as_deref().unwrap_or(&m.sonnet)),
        ("haiku", "claude-haiku", m.env.haiku.as_deref().unwrap_or(&m.haiku)),
        ("default", "claude", &m.default),
    ];
    tiers
        .into_iter()
        .map(|(tier, claude_name, configured)| {
            let plan = crate::translate::model::plan(claude_name, settings, catalogue, now);
            TierLine {
                tier,
                configured: configured.to_owned(),
                model: plan.slug,
                effort: plan.effort.map(|e| e.as_str()),
                lane: plan.lane,
                replaced: plan.replaced,
            }
        })
        .collect()
}

fn plan_for(
    slug: &str,
    effort: Option<crate::codex::request::Effort>,
    mapped: bool,
    settings: &Settings,
    catalogue: &Catalogue,
    now: DateTime<Utc>,
) -> Plan {
    let ask = Ask {
        slug,
        mapped,
        effort,
        web_search: false,
        lite_policy: settings.responses_lite,
        verbosity: settings.verbosity.as_deref(),
    };
    catalogue.plan(&ask, now)
}

/// One line per tier whose configured model is gone: for `status` and `doctor`.
pub fn replaced_tiers(settings: &Settings, catalogue: &Catalogue, now: DateTime<Utc>) -> Vec<String> {
    tier_report(settings, catalogue, now)
        .into_iter()
        .filter_map(|line| line.replaced.map(|r| format!("{}: {r}", line.tier)))
        .collect()
}

/// The catalogue the daemon would use now without the network: the copy
/// on disk, else the built-in list.
pub fn offline_catalogue(settings: &Settings) -> Catalogue {
    Catalogue::read_disk(&settings.catalogue_path()).unwrap_or_else(Catalogue::built_in)
}

/// `--json` shape of one model.
#[derive(Serialize)]
struct ModelLine<'a> {
    slug: &'a str,
    display_name: Option<&'a str>,
    efforts: Vec<&'static str>,
    default_effort: Option<&'static str>,
    lane: Lane,
    hidden: bool,
    minimal_client_version: Option<&'a str>,
    retires_at: Option<DateTime<Utc>>,
    upgrade: Option<&'a str>,
}

/// `codexd models [--json]`.
pub async fn run(settings: &Settings, json: bool) -> anyhow::Result<ExitCode> {
    let (catalogue, problem) = match read_live(settings).await {
        Ok(catalogue) => {
            if let Err(e) = catalogue.write_disk(&settings.catalogue_path(), &settings.client_version) {
                tracing::warn!(error = %e, "cannot keep the model catalogue on disk");
            }
            (catalogue, None)
        }
        Err(problem) => (offline_catalogue(settings), Some(problem)),
    };
    let now = Utc::now();
    let models: Vec<ModelLine<'_>> = catalogue
        .available(now)
        .into_iter()
        .map(|m| {
            let plan = plan_for(&m.slug, None, false, settings, &catalogue, now);
            ModelLine {
                slug: &m.slug,
                display_name: m.display_name.as_deref(),
                efforts: m.efforts().into_iter().map(|e| e.as_str()).collect(),
                default_effort: m.default_effort().map(|e| e.as_str()),
                lane: plan.lane,
                hidden: m.is_hidden(),
                minimal_client_version: m.minimal_client_version.as_deref(),
                retires_at: m.retires_at(),
                upgrade: m.upgrade.as_ref().map(|u| u.model.as_str()),
            }
        })
        .collect();
    let tiers = tier_report(settings, &catalogue, now);
    if json {
        let out = serde_json::json!({
            "source": catalogue.source,
            "client_version": settings.client_version,
            "problem": problem,
            "models": models,
            "tiers": tiers,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        print!("{}", render(&catalogue, &models, &tiers, problem.as_deref(), &settings.client_version));
    }
    Ok(if problem.is_some() { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

/// Read the account's catalogue with the stored login.
async fn read_live(settings: &Settings) -> Result<Catalogue, String> {
    let auth = Auth::new(settings);
    let credentials = auth.credentials().await.map_err(|e| e.to_string())?;
    let caller = Caller {
        access_token: &credentials.access_token,
        account_id: credentials.account_id.as_deref(),
        session_id: "",
    };
    CodexClient::new(settings).fetch_catalogue(caller).await.map_err(|e| e.to_string())
}

fn render(
    catalogue: &Catalogue,
    models: &[ModelLine<'_>],
    tiers: &[TierLine],
    problem: Option<&str>,
    client_version: &str,
) -> String {
    let mut out = String::new();
    if let Some(problem) = problem {
        out.push_str(&format!("Cannot read the account's model catalogue: {problem}\n"));
    }
    out.push_str(&format!("Models ({}; asked as Codex CLI {client_version}):\n\n", catalogue.source.describe()));
    let rows: Vec<[String; 5]> = models
        .iter()
        .map(|m| {
            let efforts = m
                .efforts
                .iter()
                .map(|e| if Some(*e) == m.default_effort { format!("{e}*") } else { (*e).to_owned() })
                .collect::<Vec<_>>()
                .join(" ");
            let lane = match m.lane {
                Lane::Lite => "Responses Lite",
                Lane::Responses => "Responses",
            };
            let mut notes = Vec::new();
            if m.hidden {
                notes.push("hidden".to_owned());
            }
            if let Some(at) = m.retires_at {
                notes.push(format!("retires {}", at.format("%Y-%m-%d")));
            }
            if let Some(upgrade) = m.upgrade {
                notes.push(format!("successor {upgrade}"));
            }
            [m.slug.to_owned(), m.display_name.unwrap_or("").to_owned(), efforts, lane.to_owned(), notes.join(", ")]
        })
        .collect();
    let header = ["model", "name", "efforts (* default)", "lane", "notes"].map(str::to_owned);
    out.push_str(&table(std::iter::once(header).chain(rows)));
    out.push_str("\nClaude tiers:\n");
    for line in tiers {
        let effort = line.effort.map(|e| format!(", {e} effort")).unwrap_or_default();
        let lane = if line.lane == Lane::Lite { ", Responses Lite" } else { "" };
        out.push_str(&format!("  {:<8} {}{effort}{lane}", line.tier, line.model));
        if let Some(replaced) = &line.replaced {
            out.push_str(&format!("   (configured {}: {})", line.configured, replaced.why));
        }
        out.push('\n');
    }
    out
}

/// Left-aligned columns, two spaces apart.
fn table(rows: impl Iterator<Item = [String; 5]>) -> String {
    let rows: Vec<[String; 5]> = rows.collect();
    let mut widths = [0usize; 5];
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in rows {
        let cells: Vec<String> = row.iter().zip(widths).map(|(cell, width)| format!("{cell:<width$}")).collect();
        out.push_str("  ");
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-12-06T12:00:00Z").unwrap().with_timezone(&Utc)
    }

    #[test]
    fn the_default_tiers_resolve_through_the_catalogue() {
        let report = tier_report(&Settings::defaults(), &Catalogue::built_in(), now());
        let got: Vec<(&str, &str, Option<&str>, Lane)> =
            report.iter().map(|l| (l.tier, l.model.as_str(), l.effort, l.lane)).collect();
        assert_eq!(
            got,
            [
                ("opus", "gpt-6-sol", Some("high"), Lane::Responses),
                ("sonnet", "gpt-5.6-terra", Some("medium"), Lane::Responses),
                ("haiku", "gpt-6-luna", Some("low"), Lane::Lite),
                ("default", "gpt-5.6-terra", Some("medium"), Lane::Responses),
            ]
        );
        assert!(report.iter().all(|l| l.replaced.is_none()));
    }

    #[test]
    fn a_retired_tier_model_is_reported_with_its_successor() {
        let mut settings = Settings::defaults();
        settings.models.sonnet = "gpt-5.2-codex-high".into();
        settings.models.env.opus = Some("gpt-5.5".into());
        let lines = replaced_tiers(&settings, &Catalogue::built_in(), now());
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert!(lines[0].starts_with("opus: gpt-5.5 → gpt-5.6-sol"), "{lines:?}");
        assert!(lines[1].starts_with("sonnet: gpt-5.2-codex → gpt-5.6-terra"), "{lines:?}");
    }

    #[test]
    fn the_listing_names_efforts_lanes_and_retirements() {
        let settings = Settings::defaults();
        let catalogue = Catalogue::built_in();
        let models: Vec<ModelLine<'_>> = catalogue
            .models
            .iter()
            .map(|m| ModelLine {
                slug: &m.slug,
                display_name: m.display_name.as_deref(),
                efforts: m.efforts().into_iter().map(|e| e.as_str()).collect(),
                default_effort: m.default_effort().map(|e| e.as_str()),
                lane: plan_for(&m.slug, None, false, &settings, &catalogue, now()).lane,
                hidden: m.is_hidden(),
                minimal_client_version: None,
                retires_at: m.retires_at(),
                upgrade: m.upgrade.as_ref().map(|u| u.model.as_str()),
            })
            .collect();
        let text = render(&catalogue, &models, &tier_report(&settings, &catalogue, now()), Some("offline"), "0.157.1");
        assert!(text.starts_with("Cannot read the account's model catalogue: offline\n"), "{text}");
        assert!(text.contains("built-in list"), "{text}");
        let luna = text.lines().find(|l| l.trim_start().starts_with("gpt-6-luna")).unwrap();
        assert!(luna.contains("low medium* high xhigh max") && luna.contains("Responses Lite"), "{luna}");
        let old = text.lines().find(|l| l.trim_start().starts_with("gpt-5.5")).unwrap();
        assert!(old.contains("retires 2026-10-14") && old.contains("successor gpt-5.6-sol"), "{old}");
        assert!(text.contains("  haiku    gpt-6-luna, low effort, Responses Lite\n"), "{text}");
    }
}
