//! The newest official Anthropic TypeScript SDK against codexd + the mock
//! upstream (`tests/sdk/anthropic_sdk_check.mjs`): create, the stream
//! helpers, a tool round trip, thinking with signatures, typed errors and
//! the model list, once per Claude tier.
//!
//! The SDK is installed by `./scripts/test` (`scripts/test-clients`) into
//! `.cache/ts-sdk`; where npm cannot be reached it leaves `UNAVAILABLE`
//! there and this test says it was skipped.

mod common;

use std::path::Path;

use common::mock_codex::MockCodex;
use common::{start_daemon, wait_for_catalogue};

#[actix_web::test]
async fn the_typescript_sdk_round_trips_on_every_tier() {
    let sdk = Path::new(env!("CARGO_MANIFEST_DIR")).join(".cache/ts-sdk");
    if !sdk.join("node_modules/@anthropic-ai/sdk/package.json").exists() {
        match std::fs::read_to_string(sdk.join("UNAVAILABLE")) {
            Ok(reason) => {
                println!("skipped: the TypeScript SDK is not available: {}", reason.trim());
                return;
            }
            Err(_) => panic!("the TypeScript SDK is not installed in {}: run ./scripts/test", sdk.display()),
        }
    }
    for model in ["claude-haiku-4-5-20251001", "claude-sonnet-4-5-20250929", "claude-opus-5-5"] {
        let upstream = MockCodex::start();
        let daemon = start_daemon(&upstream);
        wait_for_catalogue(&daemon).await;
        let out = tokio::process::Command::new("node")
            .args(["tests/sdk/anthropic_sdk_check.mjs", "--base-url", &daemon.url, "--model", model])
            .env("NODE_PATH", sdk.join("node_modules"))
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .await
            .expect("run node");
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        println!("{model}: {text}");
        assert!(out.status.success(), "TypeScript SDK checks failed for {model}:\n{text}");
        assert!(text.contains("ts-sdk: 6 passed, 0 failed"), "{text}");
        assert!(upstream.requests().iter().all(|r| r.refused.is_none()), "the strict mock refused a request");
    }
}
