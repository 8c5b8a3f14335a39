//! The command line: every subcommand and flag, with the help text users read.
//!
//! Parsing only; `main.rs` dispatches. Flags that are also settings become
//! [`config::Overrides`](crate::config::Overrides), the top layer of the
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
  codexd serve                      run the proxy in the foreground
  ANTHROPIC_BASE_URL=http://127.0.0.1:19080 claude

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
        overrides
    }
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
    fn bad_port_is_refused() {
        assert!(Cli::try_parse_from(["codexd", "serve", "--port", "abc"]).is_err());
        assert!(Cli::try_parse_from(["codexd", "serve", "--port", "0"]).is_err());
    }
}
