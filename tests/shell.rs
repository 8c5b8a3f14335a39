//! `codexd env` evaluated by real shells, and `codexd claude` running a fake
//! `claude` from PATH with the right environment and arguments.

mod service_support;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use service_support::{stderr, stdout, Sandbox};

fn shell_exists(name: &str) -> bool {
    Command::new(name).arg("-c").arg("true").output().is_ok_and(|o| o.status.success())
}

#[test]
fn env_output_is_evaluated_by_each_shell() {
    let sandbox = Sandbox::new();
    let binary = env!("CARGO_BIN_EXE_codexd");
    let expected = format!("http://127.0.0.1:{}|codexd-local|600000|unset\n", sandbox.port);
    let scripts = [
        (
            "bash",
            format!(
                r#"eval "$('{binary}' env --shell bash)"; echo "$ANTHROPIC_BASE_URL|$ANTHROPIC_AUTH_TOKEN|$API_TIMEOUT_MS|${{ANTHROPIC_API_KEY-unset}}""#
            ),
        ),
        (
            "zsh",
            format!(
                r#"eval "$('{binary}' env --shell zsh)"; echo "$ANTHROPIC_BASE_URL|$ANTHROPIC_AUTH_TOKEN|$API_TIMEOUT_MS|${{ANTHROPIC_API_KEY-unset}}""#
            ),
        ),
        (
            "fish",
            format!(
                r#"'{binary}' env --shell fish | source; set -q ANTHROPIC_API_KEY; or set ANTHROPIC_API_KEY unset; echo "$ANTHROPIC_BASE_URL|$ANTHROPIC_AUTH_TOKEN|$API_TIMEOUT_MS|$ANTHROPIC_API_KEY""#
            ),
        ),
    ];
    let mut ran = 0;
    for (shell, script) in scripts {
        if !shell_exists(shell) {
            eprintln!("{shell} is not installed; skipping it");
            continue;
        }
        let mut command = Command::new(shell);
        sandbox.apply_env(&mut command);
        let output = command.arg("-c").arg(&script).env("ANTHROPIC_API_KEY", "sk-ant-real-key").output().unwrap();
        assert_eq!(stdout(&output), expected, "{shell}: {}", stderr(&output));
        ran += 1;
    }
    assert!(ran >= 1, "no shell could run the test");
}

#[test]
fn env_picks_the_shell_from_the_shell_variable() {
    let sandbox = Sandbox::new();
    let output = sandbox.command(&["env"]).env("SHELL", "/usr/local/bin/fish").output().unwrap();
    assert!(stdout(&output).starts_with("set -gx ANTHROPIC_BASE_URL "), "{}", stdout(&output));
}

fn fake_claude(dir: &Path) {
    let script = "#!/bin/sh\n\
                  printf 'args:'; for a in \"$@\"; do printf ' [%s]' \"$a\"; done; echo\n\
                  echo \"url=$ANTHROPIC_BASE_URL token=$ANTHROPIC_AUTH_TOKEN timeout=$API_TIMEOUT_MS key=${ANTHROPIC_API_KEY-unset}\"\n\
                  exit 7\n";
    let path = dir.join("claude");
    std::fs::write(&path, script).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn claude_runs_with_the_exports_and_every_argument() {
    let sandbox = Sandbox::new();
    let bin = sandbox.dir.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    fake_claude(&bin);

    let output = sandbox
        .command(&["claude", "-p", "--model", "opus", "hello world", "--help"])
        .env("PATH", &bin)
        .env("ANTHROPIC_API_KEY", "sk-ant-real-key")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(7), "the exit code of claude is passed on: {}", stderr(&output));
    assert_eq!(
        stdout(&output),
        format!(
            "args: [-p] [--model] [opus] [hello world] [--help]\n\
             url=http://127.0.0.1:{} token=codexd-local timeout=600000 key=unset\n",
            sandbox.port
        )
    );
    assert!(stderr(&output).contains("nothing answers on"), "no hint that codexd is down: {}", stderr(&output));
}

#[test]
fn claude_missing_from_path_is_a_clear_127() {
    let sandbox = Sandbox::new();
    let empty = sandbox.dir.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let output = sandbox.command(&["claude"]).env("PATH", &empty).output().unwrap();
    assert_eq!(output.status.code(), Some(127));
    assert!(stderr(&output).contains("`claude` is not on your PATH"), "{}", stderr(&output));
}
