//! The `codexd` binary: parse the command line, load settings, dispatch, and
//! turn failures into a message and an exit code (2 for usage and settings
//! errors, 1 for everything else).

use std::process::ExitCode;

use clap::Parser;

use codexd::cli::{Cli, Command};
use codexd::{auth, config, logging, server};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let overrides = cli.overrides();
    let settings = match config::load(&overrides) {
        Ok(settings) => settings,
        Err(err) => {
            eprintln!("codexd: {err}");
            return ExitCode::from(2);
        }
    };

    // Each command runs on an actix system: the upstream and OAuth clients
    // (awc) need its single-threaded runtime.
    let outcome = actix_web::rt::System::new().block_on(async move {
        match cli.command {
            Command::Serve(_) => {
                let _guard = logging::init(&settings)?;
                server::run(settings, Some(server::Reloader::new(overrides, None))).await?;
                Ok(ExitCode::SUCCESS)
            }
            Command::Login(args) => auth::commands::login(&settings, args).await,
            Command::Logout(args) => auth::commands::logout(&settings, args).await,
            Command::Status(args) => auth::commands::status(&settings, args).await,
        }
    });
    match outcome {
        Ok(code) => code,
        Err(err) => {
            eprintln!("codexd: {err:#}");
            ExitCode::FAILURE
        }
    }
}
