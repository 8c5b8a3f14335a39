//! The rendered service definitions are valid for their managers
//! (`systemd-analyze verify`, a property-list parser, `plutil` when there),
//! `install --dry-run` prints exactly what would be written, and the unit
//! shipped in the Debian package is the template rendered for /usr/bin.

mod service_support;

use std::path::{Path, PathBuf};
use std::process::Command;

use codexd::config::Settings;
use codexd::service::unit::{self, ManagerKind, UnitSpec};
use service_support::{stdout, Sandbox};

fn spec(kind: ManagerKind) -> UnitSpec {
    let settings = Settings {
        home: "/home/ann/.chatgpt-codex-proxy".into(),
        config_file: Some("/home/ann/.config/codexd/config with space.toml".into()),
        ..Settings::defaults()
    };
    let env = [("PORT", "19090"), ("CODEX_BASE_URL", "https://chatgpt.com/backend-api?a=1&b=%20")]
        .into_iter()
        .collect::<std::collections::BTreeMap<_, _>>();
    UnitSpec::new(&settings, PathBuf::from(env!("CARGO_BIN_EXE_codexd")), kind, &env)
}

fn tool_exists(name: &str, version_arg: &str) -> bool {
    Command::new(name).arg(version_arg).output().is_ok()
}

#[test]
fn the_systemd_unit_passes_systemd_analyze_verify() {
    if !tool_exists("systemd-analyze", "--version") {
        eprintln!("systemd-analyze is not installed; skipping the verify step");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(unit::SYSTEMD_UNIT);
    std::fs::write(&path, unit::render(ManagerKind::Systemd, &spec(ManagerKind::Systemd)).unwrap()).unwrap();
    let output = Command::new("systemd-analyze").arg("verify").arg(&path).output().unwrap();
    let complaints = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "systemd-analyze verify failed:\n{complaints}");
    let ours: Vec<&str> = complaints.lines().filter(|l| l.contains(unit::SYSTEMD_UNIT)).collect();
    assert!(ours.is_empty(), "systemd-analyze complains about the unit:\n{}", ours.join("\n"));
}

#[test]
fn the_launchd_plist_is_a_property_list_with_the_expected_keys() {
    let text = unit::render(ManagerKind::Launchd, &spec(ManagerKind::Launchd)).unwrap();
    let value = plist::Value::from_reader_xml(text.as_bytes()).expect("the rendered plist does not parse");
    let dict = value.as_dictionary().unwrap();
    assert_eq!(dict.get("Label").and_then(|v| v.as_string()), Some(unit::LABEL));
    let args: Vec<&str> = dict["ProgramArguments"].as_array().unwrap().iter().map(|v| v.as_string().unwrap()).collect();
    assert_eq!(
        args,
        [env!("CARGO_BIN_EXE_codexd"), "serve", "--config", "/home/ann/.config/codexd/config with space.toml"]
    );
    let env = dict["EnvironmentVariables"].as_dictionary().unwrap();
    assert_eq!(env["CODEX_BASE_URL"].as_string(), Some("https://chatgpt.com/backend-api?a=1&b=%20"));
    assert_eq!(env["CODEXD_SUPERVISOR"].as_string(), Some("launchd"));
    assert_eq!(dict["RunAtLoad"].as_boolean(), Some(true));
    let keep_alive = dict["KeepAlive"].as_dictionary().unwrap();
    assert_eq!(keep_alive["SuccessfulExit"].as_boolean(), Some(false), "restart on failure only");

    if tool_exists("plutil", "-help") {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("codexd.plist");
        std::fs::write(&path, &text).unwrap();
        let lint = Command::new("plutil").arg("-lint").arg(&path).output().unwrap();
        assert!(lint.status.success(), "plutil -lint: {}", String::from_utf8_lossy(&lint.stdout));
    }
}

#[test]
fn install_dry_run_prints_the_rendered_unit_and_where_it_goes() {
    let sandbox = Sandbox::new();
    let closed = "http://127.0.0.1:9";
    let output = sandbox
        .command(&["install", "--dry-run"])
        .env("CODEX_BASE_URL", closed)
        .env("CODEXD_AUTH_ISSUER", closed)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));

    let (port, log) = (sandbox.port.to_string(), sandbox.log().display().to_string());
    let env: std::collections::BTreeMap<&str, &str> = [
        ("PORT", port.as_str()),
        ("CODEXD_LOG_FILE", &log),
        ("CODEX_BASE_URL", closed),
        ("CODEXD_AUTH_ISSUER", closed),
    ]
    .into_iter()
    .collect();
    let settings = Settings { home: sandbox.home(), ..Settings::defaults() };
    let spec = UnitSpec::new(&settings, PathBuf::from(env!("CARGO_BIN_EXE_codexd")), ManagerKind::Systemd, &env);
    let path = sandbox.config_home().join("systemd/user/codexd.service");
    let expected = format!(
        "# codexd install would write {path}:\n{unit}# and then run:\n\
         #   systemctl --user enable {path}\n\
         #   systemctl --user start codexd.service\n",
        path = path.display(),
        unit = unit::render(ManagerKind::Systemd, &spec).unwrap(),
    );
    assert_eq!(stdout(&output), expected);
    assert!(!path.exists(), "a dry run wrote the unit");
}

/// The unit the Debian package installs into /usr/lib/systemd/user.
fn packaged_unit() -> String {
    let spec = UnitSpec {
        program: "/usr/bin/codexd".into(),
        args: vec!["serve".into()],
        environment: vec![("CODEXD_SUPERVISOR".into(), "systemd".into())],
        stderr_path: PathBuf::new(),
    };
    unit::render(ManagerKind::Systemd, &spec).unwrap()
}

#[test]
fn the_packaged_unit_is_the_rendered_template() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("packaging/debian/codexd.service");
    if std::env::var_os("CODEXD_BLESS_PACKAGING").is_some() {
        std::fs::write(&path, packaged_unit()).unwrap();
    }
    let shipped = std::fs::read_to_string(&path).unwrap();
    assert_eq!(shipped, packaged_unit(), "re-render with CODEXD_BLESS_PACKAGING=1 cargo test --test service_units");
}

/// A binary whose path holds `$`, `'`, `\`, `%` or a space still starts:
/// systemd finds the program (`systemd-analyze verify` checks that it
/// exists; a path systemd refuses to run directly goes through /usr/bin/env),
/// and launchd gets it verbatim.
#[cfg(unix)]
#[test]
fn a_program_path_with_shell_and_systemd_specials_survives_both_formats() {
    for (name, via_env) in [("bin $HOME %h x", false), (r"bin $HOME 'q' \x %h", true)] {
        let dir = tempfile::tempdir().unwrap();
        let odd = dir.path().join(name);
        std::fs::create_dir_all(&odd).unwrap();
        let program = odd.join("codexd");
        std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_codexd"), &program).unwrap();
        let settings = Settings { home: dir.path().join("home"), ..Settings::defaults() };
        let env = std::collections::BTreeMap::<&str, &str>::new();

        let spec = UnitSpec::new(&settings, program.clone(), ManagerKind::Launchd, &env);
        let text = unit::render(ManagerKind::Launchd, &spec).unwrap();
        let value = plist::Value::from_reader_xml(text.as_bytes()).unwrap();
        let args = value.as_dictionary().unwrap()["ProgramArguments"].as_array().unwrap().clone();
        assert_eq!(args[0].as_string(), program.to_str());

        let spec = UnitSpec::new(&settings, program.clone(), ManagerKind::Systemd, &env);
        let unit_text = unit::render(ManagerKind::Systemd, &spec).unwrap();
        let exec = unit_text.lines().find(|l| l.starts_with("ExecStart=")).unwrap();
        assert_eq!(exec.starts_with("ExecStart=/usr/bin/env "), via_env, "{exec}");
        if !tool_exists("systemd-analyze", "--version") {
            eprintln!("systemd-analyze is not installed; skipping the verify step");
            continue;
        }
        let path = dir.path().join(unit::SYSTEMD_UNIT);
        std::fs::write(&path, &unit_text).unwrap();
        let output = Command::new("systemd-analyze").arg("verify").arg(&path).output().unwrap();
        let complaints = String::from_utf8_lossy(&output.stderr);
        let ours: Vec<&str> =
            complaints.lines().filter(|l| l.contains(unit::SYSTEMD_UNIT) || l.contains("codexd")).collect();
        assert!(output.status.success() && ours.is_empty(), "{exec}\nsystemd-analyze verify:\n{complaints}");
    }
}

/// `CODEXD_API_KEY` in the shell that runs `install` is not silently left out
/// of the service (which would then run unguarded): install refuses, says
/// where the key belongs, and never prints it.
#[test]
fn install_refuses_an_api_key_it_cannot_pass_on() {
    let sandbox = Sandbox::new();
    let output = sandbox.command(&["install", "--dry-run"]).env("CODEXD_API_KEY", "sekrit-local-key").output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(err.contains("CODEXD_API_KEY is set") && err.contains("api_key = "), "{err}");
    assert!(!err.contains("sekrit") && !stdout(&output).contains("sekrit"), "the key is never printed");
    assert!(!sandbox.config_home().join("systemd/user/codexd.service").exists());
}
