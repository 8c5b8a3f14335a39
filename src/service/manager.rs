//! The user's service manager, through the `service-manager` crate: where
//! codexd's definition lives ([`Target`]), whether the manager runs here, and
//! the calls that install, start, stop and query the service ([`Service`]).
//!
//! Everything that touches the real manager goes through a
//! `Box<dyn ServiceManager>`, so tests hand in a fake and never reach the
//! user's systemd or launchd.

use std::ffi::OsString;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use service_manager::{
    RestartPolicy, ServiceInstallCtx, ServiceLabel, ServiceManager, ServiceStartCtx, ServiceStatusCtx, ServiceStopCtx,
    ServiceUninstallCtx,
};

use super::unit::{ManagerKind, UnitSpec};

/// Where codexd's service definition goes for one kind of manager.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub kind: ManagerKind,
    /// `~/.config/systemd/user` or `~/Library/LaunchAgents`.
    pub dir: PathBuf,
}

impl Target {
    /// The user-level manager of this operating system: systemd on Linux,
    /// launchd on macOS; `None` elsewhere.
    pub fn native() -> Option<Target> {
        if cfg!(target_os = "macos") {
            let home = directories::BaseDirs::new()?.home_dir().to_path_buf();
            Some(Target { kind: ManagerKind::Launchd, dir: home.join("Library").join("LaunchAgents") })
        } else if cfg!(target_os = "linux") {
            // The same folder the crate writes into.
            let dir = service_manager::systemd_user_dir_path().ok()?;
            Some(Target { kind: ManagerKind::Systemd, dir })
        } else {
            None
        }
    }

    /// The unit or plist file.
    pub fn definition_path(&self) -> PathBuf {
        self.dir.join(self.kind.file_name())
    }

    /// Whether a definition is installed.
    pub fn installed(&self) -> bool {
        self.definition_path().is_file()
    }

    /// The shell commands the installer runs after writing the definition,
    /// for `install --dry-run`.
    pub fn install_commands(&self) -> Vec<String> {
        let path = self.definition_path();
        match self.kind {
            ManagerKind::Systemd => vec![
                format!("systemctl --user enable {}", path.display()),
                format!("systemctl --user start {}", super::unit::SYSTEMD_UNIT),
            ],
            ManagerKind::Launchd => vec![format!("launchctl load {}", path.display())],
        }
    }
}

/// What the manager says about the service.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "state", content = "detail")]
pub enum ManagerState {
    NotInstalled,
    Running,
    Stopped,
    /// The manager could not be asked (its words).
    Unknown(String),
}

/// codexd's service in one manager: its [`Target`] and, when the manager
/// runs on this machine, the handle to talk to it.
pub struct Service {
    pub target: Target,
    manager: Result<Box<dyn ServiceManager>, String>,
}

impl Service {
    /// The native manager of this machine, if this OS has one codexd supports.
    pub fn native() -> Option<Service> {
        let target = Target::native()?;
        let manager = connect(target.kind);
        Some(Service { target, manager })
    }

    /// A service with an explicit manager (tests hand in a fake).
    pub fn with_manager(target: Target, manager: Box<dyn ServiceManager>) -> Service {
        Service { target, manager: Ok(manager) }
    }

    /// A service whose manager does not run here, saying why.
    pub fn unavailable(target: Target, reason: impl Into<String>) -> Service {
        Service { target, manager: Err(reason.into()) }
    }

    /// Why the manager cannot be used here, if it cannot.
    pub fn unavailable_reason(&self) -> Option<&str> {
        self.manager.as_ref().err().map(String::as_str)
    }

    fn manager(&self) -> io::Result<&dyn ServiceManager> {
        self.manager.as_deref().map_err(|reason| io::Error::other(reason.clone()))
    }

    /// Write the definition (`contents`), enable it at login, and load it.
    pub fn install(&self, spec: &UnitSpec, contents: String) -> io::Result<()> {
        let ctx = ServiceInstallCtx {
            label: label(),
            program: spec.program.clone(),
            args: spec.args.iter().map(OsString::from).collect(),
            contents: Some(contents),
            username: None,
            working_directory: None,
            environment: Some(spec.environment.clone()),
            autostart: true,
            restart_policy: RestartPolicy::OnFailure { delay_secs: Some(2), max_retries: None, reset_after_secs: None },
        };
        self.manager()?.install(ctx)
    }

    /// Disable and remove the definition.
    pub fn uninstall(&self) -> io::Result<()> {
        self.manager()?.uninstall(ServiceUninstallCtx { label: label() })
    }

    /// Start the installed service now.
    pub fn start(&self) -> io::Result<()> {
        self.manager()?.start(ServiceStartCtx { label: label() })
    }

    /// Stop the service (it starts again at the next login).
    pub fn stop(&self) -> io::Result<()> {
        self.manager()?.stop(ServiceStopCtx { label: label() })
    }

    /// Ask the manager about the service.
    pub fn state(&self) -> ManagerState {
        let status = self.manager().and_then(|m| m.status(ServiceStatusCtx { label: label() }));
        match status {
            Ok(service_manager::ServiceStatus::NotInstalled) => ManagerState::NotInstalled,
            Ok(service_manager::ServiceStatus::Running) => ManagerState::Running,
            Ok(service_manager::ServiceStatus::Stopped(_)) => ManagerState::Stopped,
            Err(err) => ManagerState::Unknown(err.to_string()),
        }
    }
}

/// `io.github.codexd`: qualified name for launchd, script name `codexd` for systemd.
fn label() -> ServiceLabel {
    ServiceLabel { qualifier: Some("io.github".into()), organization: None, application: "codexd".into() }
}

/// The user-level manager of `kind`, when it runs here.
fn connect(kind: ManagerKind) -> Result<Box<dyn ServiceManager>, String> {
    match kind {
        ManagerKind::Systemd => {
            systemd_user_manager_runs()?;
            Ok(Box::new(service_manager::SystemdServiceManager::user()))
        }
        ManagerKind::Launchd => {
            let manager = service_manager::LaunchdServiceManager::user();
            match manager.available() {
                Ok(true) => Ok(Box::new(manager)),
                _ => Err("launchctl is not available".into()),
            }
        }
    }
}

/// systemd is PID 1 and this user's manager answers `systemctl --user`.
fn systemd_user_manager_runs() -> Result<(), String> {
    if !Path::new("/run/systemd/system").is_dir() {
        return Err("systemd is not running on this machine (a container, or WSL without systemd?)".into());
    }
    let answer = Command::new("systemctl")
        .args(["--user", "show-environment"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| format!("cannot run systemctl: {e}"))?;
    if answer.status.success() {
        return Ok(());
    }
    Err(format!(
        "the systemd user manager does not answer ({}); log in with a full session, or run `loginctl enable-linger $USER`",
        String::from_utf8_lossy(&answer.stderr).trim()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_gives_the_reverse_dns_name_and_the_plain_unit_name() {
        assert_eq!(label().to_qualified_name(), super::super::unit::LABEL);
        assert_eq!(format!("{}.service", label().to_script_name()), super::super::unit::SYSTEMD_UNIT);
    }

    #[test]
    fn definition_paths_follow_the_manager() {
        let systemd = Target { kind: ManagerKind::Systemd, dir: "/h/.config/systemd/user".into() };
        let launchd = Target { kind: ManagerKind::Launchd, dir: "/h/Library/LaunchAgents".into() };
        assert_eq!(systemd.definition_path(), PathBuf::from("/h/.config/systemd/user/codexd.service"));
        assert_eq!(launchd.definition_path(), PathBuf::from("/h/Library/LaunchAgents/io.github.codexd.plist"));
        assert!(!systemd.installed());
    }
}
