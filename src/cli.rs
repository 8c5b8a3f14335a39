//! The command line: every subcommand and flag, with the help text users read.
//!
//! Parsing only; `main.rs` dispatches. Flags that are also settings become
//! [`crate::config::Overrides`], the top layer of the
//! configuration.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::config::{self, Overrides};

const ABOUT: &str = "Serve the Anthropic Messages API on your machine, answered by ChatGPT's Codex models.";

const LONG_ABOUT: &str = "\
codexd is a local daemon that speaks the Anthropic Messages API on 127.0.0.1:19080 and forwards
every request to the ChatGPT Codex backend with your own ChatGPT Plus/Pro login, so Claude Code
(or any Anthropic-API client) runs on GPT/Codex models.

Getting started:
  codexd login                      sign in with your ChatGPT account (once)
  codexd install                    run it as a user service, now and at every login
                                    (or: `codexd start --detach`, or `codexd serve` in a terminal)
  codexd claude                     run Claude Code against it (or: eval \"$(codexd env)\")

When something is off: `codexd status`, `codexd logs`, `codexd doctor`.

Settings come from, lowest first: built-in defaults, the config file
(--config, $CODEXD_CONFIG, or ~/.config/codexd/config.toml), environment variables
(PORT, CODEX_BASE_URL, PASSTHROUGH_MODE, ANTHROPIC_DEFAULT_{HAIKU,SONNET,OPUS}_MODEL, CODEXD_HOME),
and command-line flags.";

#[derive(Debug, Parser)]
#[command(name = "codexd", version, about = ABOUT, long_about = LONG_ABOUT, propagate_version = true)]
pub struct Cli {
    /// Read settings from this TOML file instead of the default location.
    #[arg(long, global = true, value_name = "PATH", env = "CODEXD_CONFIG")]
    pub config: Option<PathBuf>,

    /// Log at debug level (the daemon's log, or this command's own on stderr); RUST_LOG still wins.
    #[arg(long, short = 'v', global = true)]
    pub verbose: bool,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the proxy in the foreground until interrupted.
    Serve(ServeArgs),
    /// Sign in with your ChatGPT Plus/Pro account and store the tokens.
    ///
    /// Opens the sign-in page in your browser (--no-browser only prints its link), or
    /// signs in with a one-time code typed on another device (--device), or imports the
    /// Codex CLI's login once (--from-codex). The tokens are kept in
    /// ~/.chatgpt-codex-proxy/tokens.json ($CODEXD_HOME/tokens.json) and refreshed by codexd.
    Login(crate::auth::commands::LoginArgs),
    /// Remove the stored ChatGPT tokens.
    Logout(crate::auth::commands::LogoutArgs),
    /// Show who is signed in, token expiry, and whether the daemon answers.
    ///
    /// Refreshes the token first when it is about to expire. Exits with status 1 when
    /// not signed in (or when the login must be renewed with `codexd login`).
    Status(crate::auth::commands::StatusArgs),
    #[command(flatten)]
    Service(ServiceCommand),
    /// The service verbs again (`codexd ctl start` …), for scripts and muscle memory.
    Ctl(CtlArgs),
    /// Print the last lines of the log, and follow it with -f.
    Logs(LogsArgs),
    /// Print the shell exports that point Claude Code at codexd: eval "$(codexd env)".
    Env(EnvArgs),
    /// Run Claude Code (`claude`) against codexd, passing every argument on (`--help` too;
    /// codexd's own -v/--config go before `claude`, or after `--` to reach claude).
    #[command(disable_help_flag = true)]
    Claude(ClaudeArgs),
    /// List the models your ChatGPT account can use now, and which answers each Claude tier.
    ///
    /// Reads the account's live model catalogue (and keeps its copy in ~/.chatgpt-codex-proxy/models.json
    /// up to date): each model's reasoning efforts (* marks its default), the lane it is sent over,
    /// and when it retires. Offline, it shows the last copy and exits with status 1.
    Models(ModelsArgs),
    /// Check the setup (config, login, port, service, log file, upstream) and say how to fix what is wrong.
    Doctor(DoctorArgs),
    /// Print a shell completion script: codexd completions bash > ~/.local/share/bash-completion/completions/codexd
    Completions(CompletionsArgs),
}

/// Running codexd in the background: as a user service, or detached.
#[derive(Debug, Subcommand)]
pub enum ServiceCommand {
    /// Install codexd as a user service (systemd or launchd) that starts at login, and start it now.
    Install(InstallArgs),
    /// Stop the user service and remove it.
    Uninstall,
    /// Start the installed service, or with --detach a background daemon without a service manager.
    Start(StartArgs),
    /// Stop the running daemon (service or detached), letting streams in flight finish.
    Stop,
    /// Stop the running daemon and start it again the same way.
    Restart,
}

#[derive(Debug, Args)]
pub struct CtlArgs {
    #[command(subcommand)]
    pub verb: ServiceCommand,
}

#[derive(Debug, Args, Default)]
pub struct InstallArgs {
    /// Print the unit or plist that would be written, and where; change nothing.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Args, Default)]
pub struct StartArgs {
    /// Fork into the background without a service manager (containers, WSL, CI);
    /// the pid file is ~/.chatgpt-codex-proxy/codexd.pid.
    #[arg(long, short = 'd')]
    pub detach: bool,
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// How many lines to print.
    #[arg(short = 'n', long = "lines", value_name = "N", default_value_t = 120)]
    pub lines: usize,
    /// Keep printing new lines as they are written, across log rotations (Ctrl-C to stop).
    #[arg(short = 'f', long)]
    pub follow: bool,
}

#[derive(Debug, Args)]
pub struct EnvArgs {
    /// The shell to print for [default: from $SHELL, else bash].
    #[arg(long, value_enum, value_name = "SHELL")]
    pub shell: Option<crate::shell::Shell>,
}

#[derive(Debug, Args)]
pub struct ClaudeArgs {
    /// Arguments for `claude`, passed on unchanged.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, value_name = "ARGS")]
    pub args: Vec<std::ffi::OsString>,
}

#[derive(Debug, Args)]
pub struct ModelsArgs {
    /// Print JSON (models, tiers, and where the catalogue came from) for scripts.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Skip the checks that need the internet (DNS and TLS to the Codex backend).
    #[arg(long)]
    pub offline: bool,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to generate for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// Flags of `codexd serve`; each overrides the config file and environment.
#[derive(Debug, Args, Default)]
pub struct ServeArgs {
    /// Address to listen on. Keep it on loopback unless you know why not.
    #[arg(long, value_name = "ADDR")]
    pub host: Option<String>,

    /// Port to listen on [default: 19080; env: PORT].
    #[arg(long, short = 'p', value_name = "PORT", value_parser = clap::value_parser!(u16).range(1..))]
    pub port: Option<u16>,

    /// Codex backend base URL; requests go to {URL}/codex/responses
    /// [default: https://chatgpt.com/backend-api; env: CODEX_BASE_URL].
    #[arg(long, value_name = "URL")]
    pub codex_base_url: Option<String>,

    /// Send non-Claude model names upstream unchanged (true) or map every name (false)
    /// [default: true; env: PASSTHROUGH_MODE].
    #[arg(long, value_name = "BOOL", value_parser = parse_bool_flag)]
    pub passthrough: Option<bool>,

    /// Log filter, e.g. `info`, `debug`, `codexd=trace` [default: info].
    #[arg(long, value_name = "FILTER")]
    pub log_level: Option<String>,
}

impl Cli {
    /// The settings overrides given on the command line.
    pub fn overrides(&self) -> Overrides {
        let mut overrides = Overrides { config: self.config.clone(), ..Overrides::default() };
        if let Command::Serve(serve) = &self.command {
            overrides.host = serve.host.clone();
            overrides.port = serve.port;
            overrides.codex_base_url = serve.codex_base_url.clone();
            overrides.passthrough = serve.passthrough;
            overrides.log_level = serve.log_level.clone();
        }
        if self.verbose && overrides.log_level.is_none() {
            overrides.log_level = Some("debug".into());
        }
        overrides
    }
}

/// Write the completion script for `shell` to `out`.
pub fn write_completions(shell: clap_complete::Shell, out: &mut dyn std::io::Write) -> std::io::Result<()> {
    use clap::CommandFactory;
    let mut command = Cli::command();
    let name = command.get_name().to_string();
    // `generate` panics when its writer fails (e.g. `| head`); a buffer never does.
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command, name, &mut script);
    out.write_all(&script)
}

fn parse_bool_flag(v: &str) -> Result<bool, String> {
    config::parse_bool(v).ok_or_else(|| format!("expected true/1/yes/on or false/0/no/off, got {v:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn serve_flags_become_overrides() {
        let cli = Cli::parse_from(["codexd", "--config", "/x.toml", "serve", "--port", "8080", "--passthrough", "off"]);
        let o = cli.overrides();
        assert_eq!(o.port, Some(8080));
        assert_eq!(o.passthrough, Some(false));
        assert_eq!(o.config.as_deref(), Some(std::path::Path::new("/x.toml")));
    }

    #[test]
    fn service_verbs_parse_at_the_top_and_under_ctl() {
        for argv in [["codexd", "start", "--detach"].as_slice(), &["codexd", "ctl", "start", "-d"]] {
            let command = match Cli::parse_from(argv).command {
                Command::Service(verb) | Command::Ctl(CtlArgs { verb }) => verb,
                other => panic!("{argv:?} parsed as {other:?}"),
            };
            assert!(matches!(command, ServiceCommand::Start(StartArgs { detach: true })), "{argv:?}");
        }
        assert!(matches!(
            Cli::parse_from(["codexd", "install", "--dry-run"]).command,
            Command::Service(ServiceCommand::Install(InstallArgs { dry_run: true }))
        ));
    }

    #[test]
    fn verbose_means_debug_unless_a_level_is_given() {
        assert_eq!(Cli::parse_from(["codexd", "-v", "serve"]).overrides().log_level.as_deref(), Some("debug"));
        let explicit = Cli::parse_from(["codexd", "serve", "--verbose", "--log-level", "warn"]);
        assert_eq!(explicit.overrides().log_level.as_deref(), Some("warn"));
        assert_eq!(Cli::parse_from(["codexd", "serve"]).overrides().log_level, None);
    }

    #[test]
    fn logs_defaults_to_120_lines_and_claude_passes_flags_on() {
        match Cli::parse_from(["codexd", "logs"]).command {
            Command::Logs(args) => assert_eq!((args.lines, args.follow), (120, false)),
            other => panic!("{other:?}"),
        }
        let cases = [
            (vec!["codexd", "claude", "-p", "--model", "opus", "hi"], vec!["-p", "--model", "opus", "hi"]),
            (vec!["codexd", "claude", "--help"], vec!["--help"]),
            (vec!["codexd", "-v", "claude", "--", "-v"], vec!["-v"]),
        ];
        for (argv, expected) in cases {
            match Cli::parse_from(&argv).command {
                Command::Claude(args) => assert_eq!(args.args, expected, "{argv:?}"),
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn bad_port_is_refused() {
        assert!(Cli::try_parse_from(["codexd", "serve", "--port", "abc"]).is_err());
        assert!(Cli::try_parse_from(["codexd", "serve", "--port", "0"]).is_err());
    }
}
