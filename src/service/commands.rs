//! `codexd install|uninstall|start|stop|restart` (also as `codexd ctl …`)
//! and `codexd serve`: wire the command line to this machine's service
//! manager, the process environment and stdout.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;

use super::detach::{self, Started};
use super::{instance, InstallOptions, RunMode, Service};
use crate::cli::ServiceCommand;
use crate::config::{Overrides, ProcessEnv, Settings};

/// `codexd serve`: run in this process, in the foreground or for the
/// service manager that started it.
pub fn serve(settings: Settings, overrides: &Overrides) -> anyhow::Result<ExitCode> {
    super::serve(settings, RunMode::of_serve(), overrides)?;
    Ok(ExitCode::SUCCESS)
}

/// Run one service verb. `start --detach` and `restart` of a detached
/// daemon fork: the daemon's process serves from here until it stops.
pub fn run(command: ServiceCommand, settings: Settings, overrides: &Overrides) -> anyhow::Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    let started = match command {
        ServiceCommand::Install(args) => {
            let program = std::env::current_exe().context("cannot tell where the codexd binary is")?;
            let service = Service::native().context(
                "this system has no service manager codexd supports (systemd or launchd); \
                 run it with `codexd start --detach`",
            )?;
            let options = InstallOptions { dry_run: args.dry_run, ready_timeout: detach::READY_TIMEOUT };
            super::install(&settings, &service, program, &ProcessEnv, options, &mut out)?;
            Started::Parent
        }
        ServiceCommand::Uninstall => {
            let service = Service::native().context("this system has no service manager codexd supports")?;
            super::uninstall(&service, &mut out)?;
            Started::Parent
        }
        ServiceCommand::Start(args) if args.detach => detach::start(settings, &mut out)?,
        ServiceCommand::Start(_) => {
            super::start_service(&settings, Service::native().as_ref(), &mut out)?;
            Started::Parent
        }
        ServiceCommand::Stop => {
            super::stop(&settings, Service::native().as_ref(), &mut out)?;
            Started::Parent
        }
        ServiceCommand::Restart => restart(settings, Service::native().as_ref(), &mut out)?,
    };
    drop(out);
    match started {
        Started::Parent => Ok(ExitCode::SUCCESS),
        Started::Daemon(settings) => {
            super::serve(*settings, RunMode::Detached, overrides)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Stop whatever runs, then start it the same way: detached again, else
/// through the installed service.
fn restart(settings: Settings, service: Option<&Service>, out: &mut dyn Write) -> anyhow::Result<Started> {
    let before = instance::probe(&settings.home)?;
    super::stop(&settings, service, out)?;
    match before.map(|holder| holder.mode) {
        Some(RunMode::Detached | RunMode::Foreground) => detach::start(settings, out),
        _ => {
            super::start_service(&settings, service, out)?;
            Ok(Started::Parent)
        }
    }
}
