//! Pointing Claude Code at codexd (what the seed's `gpt` shell function did):
//! `codexd env` prints the exports for `eval "$(codexd env)"`, and
//! `codexd claude …` sets them and runs `claude` in place of itself.

use std::ffi::OsString;
use std::net::IpAddr;
use std::process::{Command, ExitCode};

use crate::config::Settings;
use crate::service::probe;

/// The credential Claude Code sends to codexd. codexd signs in upstream with
/// the ChatGPT login, so this only has to be present (Claude Code asks for a
/// login without one).
pub const LOCAL_TOKEN: &str = "codexd-local";

/// Variables removed for Claude Code: a real Anthropic key would otherwise be
/// sent to codexd, and Claude Code warns when it sees two credentials.
pub const UNSET: &[&str] = &["ANTHROPIC_API_KEY"];

/// A shell `codexd env` prints for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
}

impl Shell {
    /// The shell named by `$SHELL` (`/usr/bin/fish` → fish), bash when unknown.
    pub fn from_shell_var(shell: Option<&str>) -> Shell {
        let name = shell.and_then(|s| s.rsplit('/').next()).unwrap_or_default();
        match name {
            "fish" => Shell::Fish,
            "zsh" => Shell::Zsh,
            _ => Shell::Bash,
        }
    }
}

/// The variables that point Claude Code at codexd, in print order.
pub fn client_env(settings: &Settings) -> Vec<(&'static str, String)> {
    vec![
        ("ANTHROPIC_BASE_URL", client_url(settings)),
        // The local api_key when one is set (codexd then requires it), else a placeholder.
        ("ANTHROPIC_AUTH_TOKEN", settings.api_key.as_ref().map_or(LOCAL_TOKEN, |k| k.expose()).to_string()),
        // Claude Code should not give up before codexd's own upstream timeout.
        ("API_TIMEOUT_MS", settings.request_timeout.as_millis().to_string()),
    ]
}

/// The URL a client on this machine uses: the listen URL, with a wildcard
/// address (`0.0.0.0`, `::`) replaced by loopback.
pub fn client_url(settings: &Settings) -> String {
    match settings.host.parse::<IpAddr>() {
        Ok(IpAddr::V4(ip)) if ip.is_unspecified() => format!("http://127.0.0.1:{}", settings.port),
        Ok(IpAddr::V6(ip)) if ip.is_unspecified() => format!("http://[::1]:{}", settings.port),
        _ => settings.listen_url(),
    }
}

/// `codexd env`: the shell lines that set [`client_env`] and unset [`UNSET`].
pub fn render_env(settings: &Settings, shell: Shell) -> String {
    let mut text = String::new();
    for (name, value) in client_env(settings) {
        let line = match shell {
            Shell::Bash | Shell::Zsh => format!("export {name}={}\n", posix_quote(&value)),
            Shell::Fish => format!("set -gx {name} {}\n", fish_quote(&value)),
        };
        text.push_str(&line);
    }
    for name in UNSET {
        let line = match shell {
            Shell::Bash | Shell::Zsh => format!("unset {name}\n"),
            Shell::Fish => format!("set -e {name}\n"),
        };
        text.push_str(&line);
    }
    text
}

/// `'value'` for sh, bash and zsh: `'` becomes `'\''`.
fn posix_quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', r"'\''"))
}

/// `'value'` for fish: `\` and `'` are backslash-escaped inside single quotes.
fn fish_quote(value: &str) -> String {
    format!("'{}'", value.replace('\\', r"\\").replace('\'', r"\'"))
}

/// `codexd claude ARGS…`: run `claude` with [`client_env`] set, in place of
/// this process. Returns only when `claude` cannot be started (exit 127
/// when it is not on PATH, as a shell would).
pub fn claude(settings: &Settings, args: Vec<OsString>) -> anyhow::Result<ExitCode> {
    if probe::health(settings, probe::HEALTH_TIMEOUT).is_none() {
        eprintln!(
            "codexd: nothing answers on {} yet; start it with `codexd start` (or `codexd serve` in another terminal)",
            client_url(settings)
        );
    }
    let mut command = Command::new("claude");
    command.args(args).envs(client_env(settings));
    for name in UNSET {
        command.env_remove(name);
    }
    let err = exec(command);
    if err.kind() == std::io::ErrorKind::NotFound {
        eprintln!(
            "codexd: `claude` is not on your PATH. Install Claude Code (npm install -g @anthropic-ai/claude-code) \
             and try again, or run your own client after: eval \"$(codexd env)\""
        );
        return Ok(ExitCode::from(127));
    }
    Err(anyhow::anyhow!("cannot run `claude`: {err}"))
}

#[cfg(unix)]
fn exec(mut command: Command) -> std::io::Error {
    use std::os::unix::process::CommandExt;
    command.exec()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn settings() -> Settings {
        Settings { port: 19080, request_timeout: Duration::from_secs(600), ..Settings::defaults() }
    }

    #[test]
    fn env_for_each_shell() {
        let expected_posix = "export ANTHROPIC_BASE_URL='http://127.0.0.1:19080'\n\
                              export ANTHROPIC_AUTH_TOKEN='codexd-local'\n\
                              export API_TIMEOUT_MS='600000'\n\
                              unset ANTHROPIC_API_KEY\n";
        let expected_fish = "set -gx ANTHROPIC_BASE_URL 'http://127.0.0.1:19080'\n\
                             set -gx ANTHROPIC_AUTH_TOKEN 'codexd-local'\n\
                             set -gx API_TIMEOUT_MS '600000'\n\
                             set -e ANTHROPIC_API_KEY\n";
        let mut keyed = settings();
        keyed.api_key = Some(crate::config::Secret::new("my-local-key"));
        assert!(render_env(&keyed, Shell::Bash).contains("export ANTHROPIC_AUTH_TOKEN='my-local-key'\n"));
        for (shell, expected) in
            [(Shell::Bash, expected_posix), (Shell::Zsh, expected_posix), (Shell::Fish, expected_fish)]
        {
            assert_eq!(render_env(&settings(), shell), expected, "{shell:?}");
        }
    }

    #[test]
    fn quoting_survives_quotes_and_backslashes() {
        assert_eq!(posix_quote(r"a'b\c"), r"'a'\''b\c'");
        assert_eq!(fish_quote(r"a'b\c"), r"'a\'b\\c'");
    }

    #[test]
    fn wildcard_hosts_are_reached_on_loopback() {
        let cases = [
            ("0.0.0.0", "http://127.0.0.1:19080"),
            ("::", "http://[::1]:19080"),
            ("127.0.0.2", "http://127.0.0.2:19080"),
            ("::1", "http://[::1]:19080"),
        ];
        for (host, expected) in cases {
            assert_eq!(client_url(&Settings { host: host.into(), ..settings() }), expected, "{host}");
        }
    }

    #[test]
    fn shell_comes_from_the_shell_variable() {
        let cases = [
            (Some("/usr/bin/fish"), Shell::Fish),
            (Some("/bin/zsh"), Shell::Zsh),
            (Some("/bin/bash"), Shell::Bash),
            (Some("/bin/tcsh"), Shell::Bash),
            (None, Shell::Bash),
        ];
        for (var, expected) in cases {
            assert_eq!(Shell::from_shell_var(var), expected, "{var:?}");
        }
    }
}
