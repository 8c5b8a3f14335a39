//! The always-on shell around the proxy: running the daemon (in a terminal,
//! detached, or under a service manager), installing it as a user service,
//! the `start`/`stop`/`restart` verbs, and the service part of `codexd status`.
//!
//! Every running daemon holds the lock in `{home}/codexd.pid`
//! ([`instance`]), which names its pid and mode; the verbs look there first,
//! so `stop` and `status` know a detached daemon from a service without
//! asking anyone. The service manager ([`manager`]) is asked only about
//! what only it knows: whether the service is installed and enabled.
//!
//! Nothing here starts an async runtime except [`serve`], so `start --detach`
//! can fork first.

pub mod commands;
pub mod detach;
pub mod instance;
pub mod manager;
pub mod probe;
mod status;
pub mod unit;

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context};

pub use instance::{Holder, RunMode};
pub use manager::{ManagerState, Service, Target};
pub use status::{daemon_settings, status, status_with, ServiceStatus};
pub use unit::{ManagerKind, UnitSpec};

use crate::config::{Env, Overrides, Settings};
use crate::logging::{self, Console};
use crate::server::Reloader;

/// Run the proxy in this process until it is told to stop: take the
/// one-daemon lock, set up logging, and serve on an actix system. The
/// command-line `overrides` are kept for reloads (SIGHUP, config changes).
pub fn serve(settings: Settings, mode: RunMode, overrides: &Overrides) -> anyhow::Result<()> {
    let mut lock = instance::InstanceLock::acquire(&settings.home, mode)?;
    // Name whoever holds the port; binding would only say "address in use".
    detach::refuse_if_port_taken(&settings)?;
    // `status` and `doctor` look for this daemon where it says it is.
    lock.record_port(settings.port).map_err(|source| instance::LockError::Io { path: lock.path().into(), source })?;
    let console = match mode {
        RunMode::Foreground | RunMode::Systemd => Console::Stderr,
        RunMode::Detached | RunMode::Launchd => Console::Off,
    };
    let _guard = logging::init_with(&settings, console)?;
    tracing::info!(pid = std::process::id(), mode = mode.as_str(), pid_file = %lock.path().display(), "codexd starting");
    let reloader = Reloader::new(overrides.clone(), Some(Box::new(logging::reload_level)));
    // `server::run` logs "codexd stopped" itself.
    actix_web::rt::System::new().block_on(crate::server::run(settings, Some(reloader)))?;
    Ok(())
}

/// Options of `codexd install`.
#[derive(Debug, Clone, Copy, Default)]
pub struct InstallOptions {
    /// Print the definition and where it would go; change nothing.
    pub dry_run: bool,
    /// How long to wait for the new service to answer `/health`.
    pub ready_timeout: Duration,
}

/// `codexd install`: write the unit or plist for this machine's manager,
/// enable it at login and start it now (restarting an older one).
pub fn install(
    settings: &Settings,
    service: &Service,
    program: PathBuf,
    env: &dyn Env,
    options: InstallOptions,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let target = &service.target;
    refuse_secrets_in_env(env)?;
    let spec = UnitSpec::new(settings, program, target.kind, env);
    let text = unit::render(target.kind, &spec)?;
    let path = target.definition_path();
    if options.dry_run {
        writeln!(out, "# codexd install would write {}:", path.display())?;
        write!(out, "{text}")?;
        writeln!(out, "# and then run:")?;
        for command in target.install_commands() {
            writeln!(out, "#   {command}")?;
        }
        return Ok(());
    }
    if let Some(reason) = service.unavailable_reason() {
        bail!("cannot install the {} service: {reason}\nrun codexd in the background with `codexd start --detach` instead", target.kind);
    }
    if let Some(holder) = instance::probe(&settings.home)?.filter(|h| h.mode.manager().is_none()) {
        bail!(
            "codexd already runs as pid {} ({}); stop it with `codexd stop` first, then install the service",
            holder.pid,
            holder.mode
        );
    }
    let was_running = service.state() == ManagerState::Running;
    if was_running {
        service.stop().context("cannot stop the running service to replace it")?;
    }
    service.install(&spec, text).with_context(|| format!("cannot install {}", path.display()))?;
    service.start().context("installed, but the service did not start")?;
    writeln!(out, "installed {} ({} user service, starts at login)", path.display(), target.kind)?;
    report_ready(settings, options.ready_timeout, out)
}

/// A secret set in the environment (`CODEXD_API_KEY`) would be left out of
/// the service definition, which is no place for it (systemd units and
/// launchd plists are readable by every local user), and the service would
/// run unguarded. So `install` refuses and says where the key belongs.
fn refuse_secrets_in_env(env: &dyn Env) -> anyhow::Result<()> {
    for key in crate::config::KEYS.iter().filter(|key| key.secret) {
        let Some(var) = key.env.filter(|var| env.get(var).is_some()) else { continue };
        bail!(
            "{var} is set, but a service does not get it: a unit or plist is readable by every local user, so \
             codexd does not write secrets into one, and the service would run without the key.\n\
             Put `{file} = \"…\"` in the config file instead (chmod 600 it), unset {var}, and run \
             `codexd install` again; the service reads the key from the file.",
            file = key.file
        );
    }
    Ok(())
}

/// `codexd uninstall`: stop the service and remove its definition.
pub fn uninstall(service: &Service, out: &mut dyn Write) -> anyhow::Result<()> {
    let path = service.target.definition_path();
    if !service.target.installed() {
        writeln!(out, "codexd is not installed as a service ({} does not exist)", path.display())?;
        return Ok(());
    }
    if let Some(reason) = service.unavailable_reason() {
        bail!(
            "cannot reach the {} manager to uninstall: {reason}\nremove {} by hand",
            service.target.kind,
            path.display()
        );
    }
    if service.state() == ManagerState::Running {
        service.stop().context("cannot stop the service")?;
    }
    service.uninstall().with_context(|| format!("cannot uninstall {}", path.display()))?;
    writeln!(out, "uninstalled: removed {} and stopped the service", path.display())?;
    Ok(())
}

/// `codexd start` (without `--detach`): start the installed service.
pub fn start_service(settings: &Settings, service: Option<&Service>, out: &mut dyn Write) -> anyhow::Result<()> {
    if let Some(holder) = instance::probe(&settings.home)? {
        writeln!(out, "codexd is already running (pid {}, {})", holder.pid, holder.mode)?;
        return Ok(());
    }
    let service = installed_service(service)?;
    service.start().context("the service did not start")?;
    writeln!(out, "started the {} service", service.target.kind)?;
    report_ready(settings, detach::READY_TIMEOUT, out)
}

/// `codexd stop`: stop whichever daemon runs, through its manager when it
/// has one, else by signal. Stopping nothing is not an error.
pub fn stop(settings: &Settings, service: Option<&Service>, out: &mut dyn Write) -> anyhow::Result<()> {
    let holder = instance::probe(&settings.home)?;
    let managed = service.filter(|s| s.target.installed() && s.unavailable_reason().is_none());
    match (holder, managed) {
        (Some(holder), Some(service)) if holder.mode.manager() == Some(service.target.kind) => {
            service.stop().context("the service manager could not stop codexd")?;
            if !instance::wait_until_released(&settings.home, holder, detach::STOP_TIMEOUT)? {
                bail!("codexd (pid {}) is still running after the stop request", holder.pid);
            }
            writeln!(
                out,
                "stopped the {} service (pid {}); it starts again at login",
                service.target.kind, holder.pid
            )?;
        }
        (Some(holder), _) => {
            detach::stop(holder, &settings.home, detach::STOP_TIMEOUT)?;
            writeln!(out, "stopped codexd (pid {}, {})", holder.pid, holder.mode)?;
        }
        (None, Some(service)) if service.state() == ManagerState::Running => {
            service.stop().context("the service manager could not stop codexd")?;
            writeln!(out, "stopped the {} service", service.target.kind)?;
        }
        (None, _) => writeln!(out, "codexd is not running")?,
    }
    Ok(())
}

/// The installed service, or an error that says how to get one or what to do instead.
fn installed_service(service: Option<&Service>) -> anyhow::Result<&Service> {
    let Some(service) = service else {
        bail!("this system has no service manager codexd supports; run it with `codexd start --detach`");
    };
    if let Some(reason) = service.unavailable_reason() {
        bail!("{reason}\nrun codexd in the background with `codexd start --detach`, or in this terminal with `codexd serve`");
    }
    if !service.target.installed() {
        bail!("codexd is not installed as a service; run `codexd install`, or `codexd start --detach` to run it without one");
    }
    Ok(service)
}

/// Wait up to `timeout` for `/health`, then say whether it answers.
fn report_ready(settings: &Settings, timeout: Duration, out: &mut dyn Write) -> anyhow::Result<()> {
    if probe::wait_for_health(settings, timeout).is_some() {
        writeln!(out, "codexd answers on {}", settings.listen_url())?;
    } else {
        writeln!(
            out,
            "codexd does not answer on {} yet; see `codexd status` and `codexd logs`",
            settings.listen_url()
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
