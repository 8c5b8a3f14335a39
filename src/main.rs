//! The `codexd` binary: parse the command line, load settings, dispatch, and
//! turn failures into a message and an exit code (2 for usage and settings
//! errors, 1 for everything else).
//!
//! No async runtime starts here before dispatch: `start --detach` must fork
//! first. Commands that need one (login, logout, status, and the daemon
//! itself, models) build it for themselves.

use std::process::ExitCode;

use clap::Parser;

use codexd::cli::{self, Cli, Command, CtlArgs};
use codexd::config::{self, Overrides};
use codexd::{auth, doctor, logging, models, service, shell};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let overrides = cli.overrides();
    let runs_daemon = matches!(cli.command, Command::Serve(_) | Command::Service(_) | Command::Ctl(_));
    if cli.verbose && !runs_daemon {
        // The daemon sets up its own logging; `--verbose` made its level debug.
        if let Err(err) = logging::init_cli("debug") {
            eprintln!("codexd: {err:#}");
        }
    }
    match run(cli.command, &overrides) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("codexd: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(command: Command, overrides: &Overrides) -> anyhow::Result<ExitCode> {
    let stdout = &mut std::io::stdout();
    match (command, config::load(overrides)) {
        // These two run without usable settings.
        (Command::Doctor(args), _) => doctor::run(overrides, args.offline, stdout),
        (Command::Completions(args), _) => match cli::write_completions(args.shell, stdout) {
            Err(err) if err.kind() != std::io::ErrorKind::BrokenPipe => Err(err.into()),
            _ => Ok(ExitCode::SUCCESS),
        },
        (_, Err(err)) => {
            eprintln!("codexd: {err}");
            Ok(ExitCode::from(2))
        }
        (Command::Serve(_), Ok(settings)) => service::commands::serve(settings, overrides),
        (Command::Service(verb) | Command::Ctl(CtlArgs { verb }), Ok(settings)) => {
            service::commands::run(verb, settings, overrides)
        }
        (Command::Logs(args), Ok(settings)) => {
            logging::tail::show(&settings.log_file, args.lines, args.follow, stdout)?;
            Ok(ExitCode::SUCCESS)
        }
        (Command::Env(args), Ok(settings)) => {
            let shell =
                args.shell.unwrap_or_else(|| shell::Shell::from_shell_var(std::env::var("SHELL").ok().as_deref()));
            print!("{}", shell::render_env(&settings, shell));
            Ok(ExitCode::SUCCESS)
        }
        (Command::Claude(args), Ok(settings)) => shell::claude(&settings, args.args),
        // The auth commands make HTTP calls, which need a Tokio runtime (an actix system).
        (Command::Login(args), Ok(settings)) => on_actix(auth::commands::login(&settings, args)),
        (Command::Logout(args), Ok(settings)) => on_actix(auth::commands::logout(&settings, args)),
        (Command::Status(args), Ok(settings)) => on_actix(auth::commands::status(&settings, args)),
        (Command::Models(args), Ok(settings)) => on_actix(models::run(&settings, args.json)),
    }
}

fn on_actix(command: impl std::future::Future<Output = anyhow::Result<ExitCode>>) -> anyhow::Result<ExitCode> {
    actix_web::rt::System::new().block_on(command)
}
