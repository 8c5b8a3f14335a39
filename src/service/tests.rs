//! Rendering snapshots and the install/uninstall/start/stop verbs against a
//! fake service manager: nothing here reaches the real systemd or launchd.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use service_manager::{
    ServiceInstallCtx, ServiceLevel, ServiceManager, ServiceStartCtx, ServiceStatusCtx, ServiceStopCtx,
    ServiceUninstallCtx,
};

use super::*;

const PROGRAM: &str = "/usr/local/bin/codexd";

fn settings(home: &Path) -> Settings {
    Settings {
        home: home.to_path_buf(),
        config_file: Some("/home/ann/.config/codexd/my config%.toml".into()),
        port: 1,
        ..Settings::defaults()
    }
}

fn spec(kind: ManagerKind) -> UnitSpec {
    let env: BTreeMap<&str, &str> =
        [("PORT", "19090"), ("RUST_LOG", "codexd=debug"), ("CODEX_BASE_URL", "https://example.test/a&b?x=\"$HOME\"")]
            .into_iter()
            .collect();
    UnitSpec::new(&settings(Path::new("/home/ann/.chatgpt-codex-proxy")), PROGRAM.into(), kind, &env)
}

#[test]
fn systemd_unit() {
    insta::assert_snapshot!(unit::render(ManagerKind::Systemd, &spec(ManagerKind::Systemd)).unwrap());
}

#[test]
fn launchd_plist() {
    insta::assert_snapshot!(unit::render(ManagerKind::Launchd, &spec(ManagerKind::Launchd)).unwrap());
}

#[test]
fn the_spec_runs_serve_with_the_config_and_forwards_only_set_variables() {
    let spec = spec(ManagerKind::Systemd);
    assert_eq!(spec.args, ["serve", "--config", "/home/ann/.config/codexd/my config%.toml"]);
    let names: Vec<&str> = spec.environment.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(names, ["CODEXD_HOME", "CODEXD_SUPERVISOR", "PORT", "CODEX_BASE_URL", "RUST_LOG"]);
}

#[test]
fn the_compiled_in_templates_are_the_files_in_the_repository() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let on_disk = |p: &str| std::fs::read_to_string(root.join(p)).unwrap();
    assert_eq!(unit::SYSTEMD_TEMPLATE, on_disk("systemd/codexd.service"));
    assert_eq!(unit::LAUNCHD_TEMPLATE, on_disk("launchd/io.github.codexd.plist"));
}

#[test]
fn values_that_would_break_a_definition_are_refused() {
    for kind in [ManagerKind::Systemd, ManagerKind::Launchd] {
        let mut spec = spec(kind);
        spec.environment.push(("CODEX_BASE_URL".into(), "https://a\nExecStartPre=/bin/evil".into()));
        let err = unit::render(kind, &spec).unwrap_err();
        assert!(matches!(err, unit::RenderError::ControlCharacter { .. }), "{kind}: {err}");
    }
}

/// A service manager that keeps its state in memory and writes the
/// definition into a temporary folder, like the real one would.
#[derive(Clone, Default)]
struct FakeManager {
    dir: PathBuf,
    calls: Arc<Mutex<Vec<String>>>,
    running: Arc<AtomicBool>,
}

impl FakeManager {
    fn calls(&self) -> Vec<String> {
        self.calls.lock().unwrap().clone()
    }
    fn record(&self, call: &str) {
        self.calls.lock().unwrap().push(call.to_string());
    }
}

impl ServiceManager for FakeManager {
    fn available(&self) -> std::io::Result<bool> {
        Ok(true)
    }
    fn install(&self, ctx: ServiceInstallCtx) -> std::io::Result<()> {
        self.record(&format!("install autostart={}", ctx.autostart));
        std::fs::create_dir_all(&self.dir)?;
        std::fs::write(self.dir.join("codexd.service"), ctx.contents.unwrap_or_default())
    }
    fn uninstall(&self, _: ServiceUninstallCtx) -> std::io::Result<()> {
        self.record("uninstall");
        std::fs::remove_file(self.dir.join("codexd.service"))
    }
    fn start(&self, _: ServiceStartCtx) -> std::io::Result<()> {
        self.record("start");
        self.running.store(true, Ordering::SeqCst);
        Ok(())
    }
    fn stop(&self, _: ServiceStopCtx) -> std::io::Result<()> {
        self.record("stop");
        self.running.store(false, Ordering::SeqCst);
        Ok(())
    }
    fn level(&self) -> ServiceLevel {
        ServiceLevel::User
    }
    fn set_level(&mut self, _: ServiceLevel) -> std::io::Result<()> {
        Ok(())
    }
    fn status(&self, _: ServiceStatusCtx) -> std::io::Result<service_manager::ServiceStatus> {
        Ok(match (self.dir.join("codexd.service").exists(), self.running.load(Ordering::SeqCst)) {
            (false, _) => service_manager::ServiceStatus::NotInstalled,
            (true, true) => service_manager::ServiceStatus::Running,
            (true, false) => service_manager::ServiceStatus::Stopped(None),
        })
    }
}

struct Fixture {
    _temp: tempfile::TempDir,
    home: PathBuf,
    fake: FakeManager,
    service: Service,
}

fn fixture() -> Fixture {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("systemd-user");
    let fake = FakeManager { dir: dir.clone(), ..FakeManager::default() };
    let service = Service::with_manager(Target { kind: ManagerKind::Systemd, dir }, Box::new(fake.clone()));
    Fixture { home: temp.path().join("home"), _temp: temp, fake, service }
}

fn no_env() -> BTreeMap<&'static str, &'static str> {
    BTreeMap::new()
}

fn quick() -> InstallOptions {
    InstallOptions { dry_run: false, ready_timeout: Duration::ZERO }
}

#[test]
fn dry_run_prints_the_definition_and_where_and_changes_nothing() {
    let f = fixture();
    let mut out = Vec::new();
    let options = InstallOptions { dry_run: true, ..quick() };
    install(&settings(&f.home), &f.service, PROGRAM.into(), &no_env(), options, &mut out).unwrap();
    let out = String::from_utf8(out).unwrap();
    let path = f.service.target.definition_path();
    assert!(out.starts_with(&format!("# codexd install would write {}:\n[Unit]\n", path.display())), "{out}");
    assert!(out.contains("ExecStart=/usr/local/bin/codexd serve --config"), "{out}");
    assert!(out.contains(&format!("#   systemctl --user enable {}", path.display())), "{out}");
    assert!(f.fake.calls().is_empty(), "dry run called the manager: {:?}", f.fake.calls());
    assert!(!path.exists());
}

#[test]
fn install_writes_enables_and_starts_and_a_reinstall_restarts() {
    let f = fixture();
    let settings = settings(&f.home);
    let mut out = Vec::new();
    install(&settings, &f.service, PROGRAM.into(), &no_env(), quick(), &mut out).unwrap();
    assert_eq!(f.fake.calls(), ["install autostart=true", "start"]);
    let written = std::fs::read_to_string(f.service.target.definition_path()).unwrap();
    let expected =
        unit::render(ManagerKind::Systemd, &UnitSpec::new(&settings, PROGRAM.into(), ManagerKind::Systemd, &no_env()));
    assert_eq!(written, expected.unwrap());
    assert!(String::from_utf8(out).unwrap().contains("installed "));

    install(&settings, &f.service, PROGRAM.into(), &no_env(), quick(), &mut Vec::new()).unwrap();
    assert_eq!(f.fake.calls()[2..], ["stop", "install autostart=true", "start"]);
}

#[test]
fn install_is_refused_while_a_detached_daemon_runs() {
    let f = fixture();
    let _lock = instance::InstanceLock::acquire(&f.home, RunMode::Detached).unwrap();
    let err = install(&settings(&f.home), &f.service, PROGRAM.into(), &no_env(), quick(), &mut Vec::new()).unwrap_err();
    assert!(err.to_string().contains("codexd stop"), "{err}");
    assert!(f.fake.calls().is_empty());
}

#[test]
fn install_without_a_running_manager_points_to_detach_mode() {
    let f = fixture();
    let service = Service::unavailable(f.service.target.clone(), "systemd is not running on this machine");
    let err = install(&settings(&f.home), &service, PROGRAM.into(), &no_env(), quick(), &mut Vec::new()).unwrap_err();
    let err = err.to_string();
    assert!(err.contains("systemd is not running") && err.contains("codexd start --detach"), "{err}");
}

#[test]
fn uninstall_stops_and_removes_and_is_quiet_when_nothing_is_installed() {
    let f = fixture();
    let mut out = Vec::new();
    uninstall(&f.service, &mut out).unwrap();
    assert!(String::from_utf8(out).unwrap().contains("not installed"));
    assert!(f.fake.calls().is_empty());

    install(&settings(&f.home), &f.service, PROGRAM.into(), &no_env(), quick(), &mut Vec::new()).unwrap();
    uninstall(&f.service, &mut Vec::new()).unwrap();
    assert_eq!(f.fake.calls()[2..], ["stop", "uninstall"]);
    assert!(!f.service.target.installed());
}

#[test]
fn start_without_a_service_says_how_to_get_one() {
    let f = fixture();
    let err = start_service(&settings(&f.home), Some(&f.service), &mut Vec::new()).unwrap_err().to_string();
    assert!(err.contains("codexd install") && err.contains("--detach"), "{err}");
    let err = start_service(&settings(&f.home), None, &mut Vec::new()).unwrap_err().to_string();
    assert!(err.contains("--detach"), "{err}");
}

#[test]
fn start_when_running_says_so_and_stop_of_nothing_is_fine() {
    let f = fixture();
    let mut out = Vec::new();
    stop(&settings(&f.home), Some(&f.service), &mut out).unwrap();
    assert_eq!(String::from_utf8(out).unwrap(), "codexd is not running\n");

    let _lock = instance::InstanceLock::acquire(&f.home, RunMode::Foreground).unwrap();
    let mut out = Vec::new();
    start_service(&settings(&f.home), Some(&f.service), &mut out).unwrap();
    assert!(String::from_utf8(out).unwrap().contains("already running"));
    assert!(f.fake.calls().is_empty());
}

#[test]
fn stop_goes_through_the_manager_for_an_installed_service() {
    let f = fixture();
    install(&settings(&f.home), &f.service, PROGRAM.into(), &no_env(), quick(), &mut Vec::new()).unwrap();
    let mut out = Vec::new();
    stop(&settings(&f.home), Some(&f.service), &mut out).unwrap();
    assert_eq!(f.fake.calls().last().map(String::as_str), Some("stop"));
    assert!(String::from_utf8(out).unwrap().starts_with("stopped the systemd service"));
}

#[test]
fn a_program_path_systemd_would_misread_is_quoted_or_run_through_env() {
    let exec = |program: &str| {
        let spec = UnitSpec {
            program: program.into(),
            args: vec!["serve".into(), "--config".into(), "/a/$x.toml".into()],
            environment: vec![],
            stderr_path: PathBuf::new(),
        };
        let text = unit::render(ManagerKind::Systemd, &spec).unwrap();
        text.lines().find(|l| l.starts_with("ExecStart=")).unwrap().to_string()
    };
    // The program's `$` is not expanded by systemd, so it is not doubled; an argument's is.
    assert_eq!(exec("/opt/a$b %c/codexd"), r#"ExecStart="/opt/a$b %%c/codexd" serve --config "/a/$$x.toml""#);
    // systemd refuses `'`, `"` and `\` in a program path: env runs it.
    assert_eq!(
        exec(r"/opt/it's\x/codexd"),
        r#"ExecStart=/usr/bin/env "/opt/it's\\x/codexd" serve --config "/a/$$x.toml""#
    );
    let spec = UnitSpec {
        program: r"/opt/a=b'/codexd".into(),
        args: vec![],
        environment: vec![],
        stderr_path: PathBuf::new(),
    };
    assert!(unit::render(ManagerKind::Systemd, &spec).unwrap_err().to_string().contains("plainer path"));
}
