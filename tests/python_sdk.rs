//! The official Anthropic Python SDK, and our stdlib smoke script, against
//! codexd + the mock upstream.
//!
//! Needs a Python with the `anthropic` package: `CODEXD_TEST_PYTHON`, else
//! `.venv/bin/python` (created by `./scripts/test`). Missing → the test
//! fails and says how to set it up.

mod common;

use std::path::PathBuf;

use common::mock_codex::MockCodex;
use common::start_daemon;

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

#[actix_web::test]
async fn official_python_sdk_round_trips() {
    let upstream = MockCodex::start();
    let daemon = start_daemon(&upstream);
    let (ok, output) = run_python(&["tests/sdk/anthropic_sdk_check.py", "--base-url", &daemon.url]).await;
    println!("{output}");
    assert!(ok, "SDK checks failed:\n{output}");
    assert!(output.contains("9 passed, 0 failed"), "{output}");
    assert!(upstream.requests().iter().all(|r| r.refused.is_none()), "the strict mock refused a request");
}

#[actix_web::test]
async fn tool_calling_smoke_script_passes() {
    let upstream = MockCodex::start();
    let daemon = start_daemon(&upstream);
    let (ok, output) = run_python(&["scripts/tool_calling_smoke.py", "--base-url", &daemon.url]).await;
    assert!(ok, "smoke script failed:\n{output}");
    assert!(output.starts_with("PASS"), "{output}");
    assert_eq!(upstream.requests().len(), 2, "two turns");
}

#[actix_web::test]
async fn tool_calling_smoke_script_reports_failure() {
    // Nothing listens on port 9: the script must say FAIL, not crash or pass.
    let (ok, output) =
        run_python(&["scripts/tool_calling_smoke.py", "--base-url", "http://127.0.0.1:9", "--timeout", "5"]).await;
    assert!(!ok);
    assert!(output.starts_with("FAIL: cannot reach"), "{output}");
}
