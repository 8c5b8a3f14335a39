//! The service definitions `codexd install` writes: a systemd user unit and a
//! launchd user agent, rendered from the templates in `systemd/` and
//! `launchd/` (compiled in, so the binary needs no data files).
//!
//! Pure: a [`UnitSpec`] in, the file's text out. Quoting for each format is
//! done here, so the templates only place values: systemd gets C-style
//! quoted words with `%` and `$` escaped, launchd gets XML-escaped strings.

use std::path::{Path, PathBuf};

use minijinja::syntax::SyntaxConfig;
use minijinja::{AutoEscape, Environment, UndefinedBehavior};
use serde::Serialize;

use crate::config::{Env, Settings};

/// The systemd unit template (`systemd/codexd.service`).
pub const SYSTEMD_TEMPLATE: &str = include_str!("../../systemd/codexd.service");
/// The launchd agent template (`launchd/io.github.codexd.plist`).
pub const LAUNCHD_TEMPLATE: &str = include_str!("../../launchd/io.github.codexd.plist");

/// The reverse-DNS label of the service: the launchd label and plist name.
pub const LABEL: &str = "io.github.codexd";
/// The systemd unit name.
pub const SYSTEMD_UNIT: &str = "codexd.service";

/// Environment variables a service inherits from the shell that ran
/// `codexd install`, when set there: the ones `config::load` reads, and
/// `RUST_LOG`. Without them the service would run with other settings than
/// the `codexd doctor` run next to it.
pub fn forwarded_env() -> impl Iterator<Item = &'static str> {
    crate::config::env_overrides().chain(["RUST_LOG"])
}

/// Set in every service definition; tells `codexd serve` who supervises it.
pub const SUPERVISOR_ENV: &str = "CODEXD_SUPERVISOR";

/// A service manager codexd can install itself into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ManagerKind {
    /// systemd, user instance (`systemctl --user`), Linux.
    Systemd,
    /// launchd, per-user agent (`~/Library/LaunchAgents`), macOS.
    Launchd,
}

impl ManagerKind {
    /// `systemd` or `launchd`, as in `CODEXD_SUPERVISOR`.
    pub fn as_str(self) -> &'static str {
        match self {
            ManagerKind::Systemd => "systemd",
            ManagerKind::Launchd => "launchd",
        }
    }

    /// The file name of the definition inside the manager's folder.
    pub fn file_name(self) -> String {
        match self {
            ManagerKind::Systemd => SYSTEMD_UNIT.to_string(),
            ManagerKind::Launchd => format!("{LABEL}.plist"),
        }
    }
}

impl std::fmt::Display for ManagerKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Everything that varies between installations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitSpec {
    /// Absolute path of the `codexd` binary to run.
    pub program: PathBuf,
    /// Arguments after the program: `serve`, and `--config FILE` when a file is in use.
    pub args: Vec<String>,
    /// Variables set for the daemon, in order.
    pub environment: Vec<(String, String)>,
    /// Where launchd sends the daemon's stderr (panics; log lines go to the log file).
    pub stderr_path: PathBuf,
}

impl UnitSpec {
    /// What `codexd install` runs for `kind`: `PROGRAM serve [--config FILE]`
    /// with `CODEXD_HOME`, the supervisor marker, and every
    /// [`forwarded_env`] variable set in `env`.
    pub fn new(settings: &Settings, program: PathBuf, kind: ManagerKind, env: &dyn Env) -> Self {
        let mut args = vec!["serve".to_string()];
        if let Some(file) = &settings.config_file {
            args.push("--config".into());
            args.push(absolute(file).to_string_lossy().into_owned());
        }
        let mut environment = vec![
            ("CODEXD_HOME".to_string(), absolute(&settings.home).to_string_lossy().into_owned()),
            (SUPERVISOR_ENV.to_string(), kind.as_str().to_string()),
        ];
        environment.extend(forwarded_env().filter_map(|name| Some((name.to_string(), env.get(name)?))));
        UnitSpec { program, args, environment, stderr_path: settings.home.join("codexd.stderr") }
    }
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// A value that cannot be written into a service definition.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("{what} {value:?} contains a line break or control character, which a service definition cannot hold")]
    ControlCharacter { what: &'static str, value: String },
    #[error(
        "the path {0} is not valid UTF-8; use plain paths for codexd and its home, then run `codexd install` again"
    )]
    NotUtf8(PathBuf),
    #[error(
        "the program path {0:?} holds a quote or backslash and an `=`, which a systemd unit cannot run; \
         install codexd under a plainer path (e.g. ~/.local/bin/codexd) and run `codexd install` again"
    )]
    UnsafeProgram(String),
    #[error("cannot render the service template: {0}")]
    Template(#[from] minijinja::Error),
}

/// The definition of `spec` for `kind`, as it would be written to disk.
pub fn render(kind: ManagerKind, spec: &UnitSpec) -> Result<String, RenderError> {
    match kind {
        ManagerKind::Systemd => render_systemd(spec),
        ManagerKind::Launchd => render_launchd(spec),
    }
}

#[derive(Serialize)]
struct SystemdContext {
    exec_start: String,
    environment: Vec<String>,
}

fn render_systemd(spec: &UnitSpec) -> Result<String, RenderError> {
    let words = command_words(spec)?;
    let (program, args) = words.split_first().expect("a command has its program");
    // systemd expands neither `$` nor `\` escapes the same way in the
    // program as in its arguments, and refuses a program path holding `'`,
    // `"` or `\` outright; such a path is handed to /usr/bin/env as an
    // argument instead, where every character can be quoted.
    let mut exec = Vec::with_capacity(words.len() + 1);
    if program.contains(['\'', '"', '\\']) {
        if program.contains('=') {
            return Err(RenderError::UnsafeProgram(program.to_string()));
        }
        exec.push("/usr/bin/env".to_string());
        exec.push(systemd_exec_word(program));
    } else {
        exec.push(systemd_program_word(program));
    }
    exec.extend(args.iter().map(|arg| systemd_exec_word(arg)));
    let exec_start = exec.join(" ");
    let environment =
        checked_environment(spec)?.into_iter().map(|(name, value)| systemd_quote(&format!("{name}={value}"))).collect();
    let context = SystemdContext { exec_start, environment };
    fill("systemd/codexd.service", SYSTEMD_TEMPLATE, context)
}

#[derive(Serialize)]
struct LaunchdContext {
    label: &'static str,
    program_arguments: Vec<String>,
    environment: Vec<LaunchdVariable>,
    stderr_path: String,
}

#[derive(Serialize)]
struct LaunchdVariable {
    name: String,
    value: String,
}

fn render_launchd(spec: &UnitSpec) -> Result<String, RenderError> {
    let program_arguments = command_words(spec)?.into_iter().map(xml_escape).collect();
    let environment = checked_environment(spec)?
        .into_iter()
        .map(|(name, value)| LaunchdVariable { name: xml_escape(name), value: xml_escape(value) })
        .collect();
    let stderr_path = check("the stderr path", utf8(&spec.stderr_path)?)?;
    let context = LaunchdContext { label: LABEL, program_arguments, environment, stderr_path: xml_escape(stderr_path) };
    fill("launchd/io.github.codexd.plist", LAUNCHD_TEMPLATE, context)
}

/// The program and its arguments, each fit for a definition.
fn command_words(spec: &UnitSpec) -> Result<Vec<&str>, RenderError> {
    let program = utf8(&spec.program)?;
    std::iter::once(program)
        .chain(spec.args.iter().map(String::as_str))
        .map(|word| check("an argument", word))
        .collect()
}

/// The environment, each name and value fit for a definition.
fn checked_environment(spec: &UnitSpec) -> Result<Vec<(&str, &str)>, RenderError> {
    spec.environment
        .iter()
        .map(|(name, value)| {
            Ok((check("a variable name", name)?, check("the value of an environment variable", value)?))
        })
        .collect()
}

fn utf8(path: &Path) -> Result<&str, RenderError> {
    path.to_str().ok_or_else(|| RenderError::NotUtf8(path.to_path_buf()))
}

/// `value` unless it holds a control character (a newline would end the
/// systemd line or break the plist).
fn check<'a>(what: &'static str, value: &'a str) -> Result<&'a str, RenderError> {
    if value.chars().any(char::is_control) {
        return Err(RenderError::ControlCharacter { what, value: value.to_string() });
    }
    Ok(value)
}

/// Place `context` into `template`: strict about undefined names, no
/// HTML escaping (values come escaped for their format), block tags take
/// their line with them.
fn fill(name: &str, template: &str, context: impl Serialize) -> Result<String, RenderError> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_auto_escape_callback(|_| AutoEscape::None);
    env.set_syntax(SyntaxConfig::builder().trim_blocks(true).lstrip_blocks(true).keep_trailing_newline(true).build()?);
    let template = env.template_from_named_str(name, template)?;
    Ok(template.render(minijinja::value::Serde(context))?)
}

/// The program of `ExecStart=`: bare when it is plain, else double-quoted
/// ([`systemd_quote`]); `$` stays as it is, since systemd does not expand
/// variables in the program's name.
fn systemd_program_word(word: &str) -> String {
    let plain = !word.is_empty() && word.chars().all(|c| c.is_ascii_alphanumeric() || "/._+,:@=-".contains(c));
    if plain {
        word.to_string()
    } else {
        systemd_quote(word)
    }
}

/// One argument of `ExecStart=`: bare when it is plain, else double-quoted
/// ([`systemd_quote`]) with `$` doubled against variable expansion.
fn systemd_exec_word(word: &str) -> String {
    let plain = !word.is_empty() && word.chars().all(|c| c.is_ascii_alphanumeric() || "/._+,:@=-".contains(c));
    if plain {
        word.to_string()
    } else {
        systemd_quote(&word.replace('$', "$$"))
    }
}

/// A double-quoted systemd value, `\` and `"` escaped, `%` doubled.
fn systemd_quote(value: &str) -> String {
    let mut quoted = String::with_capacity(value.len() + 2);
    quoted.push('"');
    for c in value.chars() {
        match c {
            '\\' => quoted.push_str("\\\\"),
            '"' => quoted.push_str("\\\""),
            '%' => quoted.push_str("%%"),
            c => quoted.push(c),
        }
    }
    quoted.push('"');
    quoted
}

/// `value` with the five XML special characters escaped.
fn xml_escape(value: &str) -> String {
    let mut escaped = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&apos;"),
            c => escaped.push(c),
        }
    }
    escaped
}
