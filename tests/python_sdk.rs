//! The official Anthropic Python SDK, and our stdlib smoke script, against
//! codexd + the mock upstream.
//!
//! Needs a Python with the `anthropic` package: `CODEXD_TEST_PYTHON`, else
//! `.venv/bin/python` (created by `./scripts/test`). Missing → the test
//! fails and says how to set it up.

mod common;

use std::path::PathBuf;

use common::mock_codex::MockCodex;
use common::{start_daemon, wait_for_catalogue};

fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("CODEXD_TEST_PYTHON") {
        return PathBuf::from(p);
    }
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python");
    assert!(
        venv.exists(),
        "no Python with the Anthropic SDK: run ./scripts/test (it creates .venv), or set CODEXD_TEST_PYTHON"
    );
    venv
}

async fn run_python(args: &[&str]) -> (bool, String) {
    let out = tokio::process::Command::new(python())
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .await
        .expect("run python");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

/// One Claude name per tier, the Codex model that answers it by default,
/// and whether that model goes over Responses Lite.
const TIERS: [(&str, &str, bool); 3] = [
    ("claude-haiku-4-5-20251001", "gpt-6-luna", true),
    ("claude-sonnet-4-5-20250929", "gpt-5.6-terra", false),
    ("claude-opus-5-5", "gpt-6-sol", false),
];

/// The `/codex/responses` requests the mock received, as (model, went over Lite).
fn lanes(upstream: &MockCodex) -> Vec<(String, bool)> {
    let requests = upstream.requests();
    assert!(requests.iter().all(|r| r.refused.is_none()), "the strict mock refused a request: {requests:?}");
    requests
        .iter()
        .map(|r| {
            let lite = r.header("x-openai-internal-codex-responses-lite") == Some("true");
            (r.body["model"].as_str().unwrap_or_default().to_owned(), lite)
        })
        .collect()
}

#[actix_web::test]
async fn official_python_sdk_round_trips_on_every_tier_with_default_settings() {
    for (claude, codex, lite) in TIERS {
        let upstream = MockCodex::start();
        let daemon = start_daemon(&upstream);
        wait_for_catalogue(&daemon).await;
        let (ok, output) =
            run_python(&["tests/sdk/anthropic_sdk_check.py", "--base-url", &daemon.url, "--model", claude]).await;
        println!("{claude}: {output}");
        assert!(ok, "SDK checks failed for {claude}:\n{output}");
        assert!(output.contains("9 passed, 0 failed"), "{output}");
        for (model, went_lite) in lanes(&upstream) {
            // Web search is not on Lite: a Luna request that needs it goes to Sol.
            if model == codex {
                assert_eq!(went_lite, lite, "{claude} → {model}");
            } else {
                assert_eq!((model.as_str(), went_lite), ("gpt-6-sol", false), "{claude}: only web search moves");
            }
        }
        assert!(lanes(&upstream).iter().any(|(model, _)| model == codex), "{claude} reached {codex}");
    }
}

#[actix_web::test]
async fn tool_calling_smoke_script_passes_on_every_tier() {
    for (claude, codex, lite) in TIERS {
        let upstream = MockCodex::start();
        let daemon = start_daemon(&upstream);
        let (ok, output) =
            run_python(&["scripts/tool_calling_smoke.py", "--base-url", &daemon.url, "--model", claude]).await;
        assert!(ok, "smoke script failed for {claude}:\n{output}");
        assert!(output.starts_with("PASS"), "{output}");
        assert_eq!(lanes(&upstream), [(codex.to_owned(), lite), (codex.to_owned(), lite)], "two turns of {claude}");
    }
}

#[actix_web::test]
async fn tool_calling_smoke_script_reports_failure() {
    // Nothing listens on port 9: the script must say FAIL, not crash or pass.
    let (ok, output) =
        run_python(&["scripts/tool_calling_smoke.py", "--base-url", "http://127.0.0.1:9", "--timeout", "5"]).await;
    assert!(!ok);
    assert!(output.starts_with("FAIL: cannot reach"), "{output}");
}
