//! Settings: what codexd runs with, and where each value came from.
//!
//! Layers, lowest first: built-in defaults < TOML file < environment < flags.
//! The file is `--config PATH`, else `$CODEXD_CONFIG`, else
//! `$XDG_CONFIG_HOME/codexd/config.toml` (`~/.config/codexd/config.toml`); a
//! missing file at the default location is fine, a missing file that was
//! asked for by name is not. Every bad value stops the program with a message
//! that names where it came from (file and key, or variable) and what is
//! expected.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

/// Default listening port.
pub const DEFAULT_PORT: u16 = 19080;
/// Default upstream base URL; requests go to `{base}/codex/responses`.
pub const DEFAULT_CODEX_BASE_URL: &str = "https://chatgpt.com/backend-api";
/// Default OAuth issuer.
pub const DEFAULT_AUTH_ISSUER: &str = "https://auth.openai.com";
/// Default log file (rotated).
pub const DEFAULT_LOG_FILE: &str = "/tmp/chatgpt-codex-proxy.log";
/// Default upstream model per Claude tier (an effort suffix is the default
/// `reasoning.effort`). Each is checked against the live model catalogue
/// before use, and replaced by its successor once retired.
pub const DEFAULT_SONNET_MODEL: &str = "gpt-5.6-terra-medium";
pub const DEFAULT_HAIKU_MODEL: &str = "gpt-6-luna-low";
pub const DEFAULT_OPUS_MODEL: &str = "gpt-6-sol-high";
pub const DEFAULT_FALLBACK_MODEL: &str = "gpt-5.6-terra-medium";
/// The Codex CLI version codexd presents itself as: the backend hides and
/// refuses models newer than the client (see `codex::identity`). The newest
/// CLI release the protocol notes know of.
pub const DEFAULT_CLIENT_VERSION: &str = "0.157.1";

/// Everything the daemon needs to run, fully resolved and validated.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub host: String,
    pub port: u16,
    /// Without a trailing slash.
    pub codex_base_url: String,
    /// Non-Claude model names go upstream unchanged when true.
    pub passthrough: bool,
    pub models: ModelMap,
    /// Upper bound on one upstream request, connect to last byte.
    pub request_timeout: Duration,
    /// A tracing filter such as `info` or `codexd=debug`.
    pub log_level: String,
    pub log_file: PathBuf,
    /// OAuth issuer base URL, without a trailing slash.
    pub auth_issuer: String,
    /// Folder holding `tokens.json` (`CODEXD_HOME`, else `~/.chatgpt-codex-proxy`).
    pub home: PathBuf,
    /// The config file that was read, if any.
    pub config_file: Option<PathBuf>,
    /// When set, clients must present it as `x-api-key` or `Authorization: Bearer`.
    pub api_key: Option<Secret>,
    /// `Host` names accepted besides loopback ones and `host` itself.
    pub allowed_hosts: Vec<String>,
    /// Browser `Origin`s allowed to call codexd (none by default).
    pub allowed_origins: Vec<String>,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Upstream requests in flight at once; more get 529 `overloaded_error`.
    pub max_concurrent_requests: usize,
    /// Give up connecting to the Codex backend after this long.
    pub connect_timeout: Duration,
    /// Give up on an upstream stream that sends nothing for this long.
    pub read_timeout: Duration,
    /// Send a `ping` event when a stream has been quiet this long.
    pub ping_interval: Duration,
    /// The Codex CLI version sent as `version`, in the User-Agent and as the
    /// catalogue's `client_version` (`x.y.z`).
    pub client_version: String,
    /// Which models go over the Responses Lite lane.
    pub responses_lite: LitePolicy,
    /// `text.verbosity` for every request; `None` uses each model's default.
    pub verbosity: Option<String>,
    /// Proxy for the upstream and OAuth calls (`http://`, `https://`,
    /// `socks5://`); `None` uses `HTTPS_PROXY`/`ALL_PROXY`/`NO_PROXY`.
    pub proxy: Option<String>,
    /// How often the model catalogue is read again.
    pub catalogue_refresh: Duration,
    /// How soon a failed catalogue read is tried again (doubled up to `catalogue_refresh`).
    pub catalogue_retry: Duration,
}

/// `responses_lite`: which models are sent over the Responses Lite lane.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LitePolicy {
    /// Only the models the full lane does not serve (the Luna family): the
    /// full lane keeps parallel tool calls and hosted web search.
    #[default]
    Auto,
    /// Every model the catalogue marks `use_responses_lite`, as the Codex CLI does.
    Always,
}

impl LitePolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            LitePolicy::Auto => "auto",
            LitePolicy::Always => "always",
        }
    }
}

/// A value that must never be printed: `Debug` shows only that it is set.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret itself; only for comparing, never for printing.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// How Claude model names map to Codex models.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelMap {
    pub haiku: String,
    pub sonnet: String,
    pub opus: String,
    /// For Claude names that match no tier.
    pub default: String,
    /// Exact `"claude-…" = "gpt-…"` entries from the config file.
    pub exact: BTreeMap<String, String>,
    /// `ANTHROPIC_DEFAULT_{HAIKU,SONNET,OPUS}_MODEL`: win over the file, exact entries included.
    pub env: TierOverrides,
}

/// Tier models set through the environment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TierOverrides {
    pub haiku: Option<String>,
    pub sonnet: Option<String>,
    pub opus: Option<String>,
}

impl Default for ModelMap {
    fn default() -> Self {
        ModelMap {
            haiku: DEFAULT_HAIKU_MODEL.into(),
            sonnet: DEFAULT_SONNET_MODEL.into(),
            opus: DEFAULT_OPUS_MODEL.into(),
            default: DEFAULT_FALLBACK_MODEL.into(),
            exact: BTreeMap::new(),
            env: TierOverrides::default(),
        }
    }
}

impl Settings {
    /// Built-in defaults, with `home` at `~/.chatgpt-codex-proxy`.
    pub fn defaults() -> Self {
        Settings {
            host: "127.0.0.1".into(),
            port: DEFAULT_PORT,
            codex_base_url: DEFAULT_CODEX_BASE_URL.into(),
            passthrough: true,
            models: ModelMap::default(),
            request_timeout: Duration::from_secs(600),
            log_level: "info".into(),
            log_file: PathBuf::from(DEFAULT_LOG_FILE),
            auth_issuer: DEFAULT_AUTH_ISSUER.into(),
            home: default_home(),
            config_file: None,
            api_key: None,
            allowed_hosts: Vec::new(),
            allowed_origins: Vec::new(),
            max_body_bytes: 64 * 1024 * 1024,
            max_concurrent_requests: 256,
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(300),
            ping_interval: Duration::from_secs(10),
            client_version: DEFAULT_CLIENT_VERSION.into(),
            responses_lite: LitePolicy::Auto,
            verbosity: None,
            proxy: None,
            catalogue_refresh: Duration::from_secs(3600),
            catalogue_retry: Duration::from_secs(60),
        }
    }

    /// The model catalogue's copy on disk, next to the tokens.
    pub fn catalogue_path(&self) -> PathBuf {
        self.home.join("models.json")
    }

    /// The token file.
    pub fn tokens_path(&self) -> PathBuf {
        self.home.join("tokens.json")
    }

    /// `http://host:port`, for clients of the daemon (status, doctor, env).
    pub fn listen_url(&self) -> String {
        if self.host.contains(':') {
            format!("http://[{}]:{}", self.host, self.port)
        } else {
            format!("http://{}:{}", self.host, self.port)
        }
    }
}

/// `$CODEXD_HOME`, else `~/.chatgpt-codex-proxy`.
pub fn default_home() -> PathBuf {
    if let Some(dir) = std::env::var_os("CODEXD_HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(dir);
    }
    home_dir().join(".chatgpt-codex-proxy")
}

fn home_dir() -> PathBuf {
    directories::BaseDirs::new().map(|d| d.home_dir().to_path_buf()).unwrap_or_else(|| PathBuf::from("."))
}

/// The config file looked for when neither `--config` nor `$CODEXD_CONFIG` is given.
pub fn default_config_path() -> PathBuf {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| home_dir().join(".config"));
    base.join("codexd").join("config.toml")
}

/// Values given on the command line; `None` leaves the lower layers alone.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub config: Option<PathBuf>,
    pub host: Option<String>,
    pub port: Option<u16>,
    pub codex_base_url: Option<String>,
    pub passthrough: Option<bool>,
    pub log_level: Option<String>,
}

/// A setting that cannot be used, with where it came from.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("config file {path}: {message}")]
    File { path: PathBuf, message: String },
    #[error("environment variable {var}={value:?}: {expected}")]
    Env { var: &'static str, value: String, expected: String },
    #[error("{origin}: `{key}` {message}")]
    Invalid { origin: String, key: &'static str, message: String },
}

/// The file's shape. Unknown keys are an error, so a typo never goes unnoticed.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSettings {
    host: Option<String>,
    port: Option<u16>,
    codex_base_url: Option<String>,
    passthrough: Option<bool>,
    request_timeout: Option<u64>,
    log_level: Option<String>,
    log_file: Option<PathBuf>,
    auth_issuer: Option<String>,
    api_key: Option<String>,
    allowed_hosts: Option<Vec<String>>,
    allowed_origins: Option<Vec<String>>,
    max_body_mb: Option<u64>,
    max_concurrent_requests: Option<usize>,
    connect_timeout: Option<u64>,
    read_timeout: Option<u64>,
    ping_interval: Option<u64>,
    client_version: Option<String>,
    responses_lite: Option<String>,
    verbosity: Option<String>,
    proxy: Option<String>,
    models: Option<FileModels>,
}

#[derive(Debug, Default, Deserialize)]
struct FileModels {
    haiku: Option<String>,
    sonnet: Option<String>,
    opus: Option<String>,
    default: Option<String>,
    #[serde(flatten)]
    exact: BTreeMap<String, String>,
}

/// A source of environment variables, so tests need not touch the process environment.
pub trait Env {
    fn get(&self, key: &str) -> Option<String>;
}

/// The real process environment.
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn get(&self, key: &str) -> Option<String> {
        std::env::var(key).ok().filter(|v| !v.is_empty())
    }
}

impl Env for BTreeMap<&str, &str> {
    fn get(&self, key: &str) -> Option<String> {
        BTreeMap::get(self, key).map(|v| v.to_string())
    }
}

/// Load settings from every layer, using the process environment.
pub fn load(overrides: &Overrides) -> Result<Settings, ConfigError> {
    load_with(overrides, &ProcessEnv)
}

/// The environment variables that override settings (besides `CODEXD_HOME`
/// and `CODEXD_CONFIG`, which say where things are, and the secret
/// `CODEXD_API_KEY`). A service definition passes these on.
pub const ENV_OVERRIDES: &[&str] = &[
    "PORT",
    "CODEX_BASE_URL",
    "PASSTHROUGH_MODE",
    "ANTHROPIC_DEFAULT_HAIKU_MODEL",
    "ANTHROPIC_DEFAULT_SONNET_MODEL",
    "ANTHROPIC_DEFAULT_OPUS_MODEL",
    "CODEXD_AUTH_ISSUER",
    "CODEXD_LOG_FILE",
    "CODEXD_CLIENT_VERSION",
];

/// Load settings from every layer with an explicit environment.
pub fn load_with(overrides: &Overrides, env: &dyn Env) -> Result<Settings, ConfigError> {
    load_layers(overrides, env, true)
}

/// Load settings from defaults, environment and flags, leaving out the
/// config file (for diagnosing a file that does not load).
pub fn load_without_file(overrides: &Overrides) -> Result<Settings, ConfigError> {
    load_layers(overrides, &ProcessEnv, false)
}

fn load_layers(overrides: &Overrides, env: &dyn Env, with_file: bool) -> Result<Settings, ConfigError> {
    let mut settings = Settings::defaults();
    if let Some(home) = env.get("CODEXD_HOME") {
        settings.home = PathBuf::from(home);
    }

    // The file layer.
    let (path, required) = config_path_with(overrides, env);
    if let Some(file) = if with_file { read_file(&path, required)? } else { None } {
        apply_file(&mut settings, file, &path)?;
        settings.config_file = Some(path);
    }

    // The environment layer.
    if let Some(v) = env.get("PORT") {
        settings.port = parse_port(&v).map_err(|expected| ConfigError::Env { var: "PORT", value: v, expected })?;
    }
    if let Some(v) = env.get("CODEX_BASE_URL") {
        settings.codex_base_url = v;
    }
    if let Some(v) = env.get("PASSTHROUGH_MODE") {
        settings.passthrough = parse_bool(&v).ok_or_else(|| ConfigError::Env {
            var: "PASSTHROUGH_MODE",
            value: v.clone(),
            expected: "expected true/1/yes/on or false/0/no/off".into(),
        })?;
    }
    settings.models.env = TierOverrides {
        haiku: env.get("ANTHROPIC_DEFAULT_HAIKU_MODEL"),
        sonnet: env.get("ANTHROPIC_DEFAULT_SONNET_MODEL"),
        opus: env.get("ANTHROPIC_DEFAULT_OPUS_MODEL"),
    };
    if let Some(v) = env.get("CODEXD_AUTH_ISSUER") {
        settings.auth_issuer = v;
    }
    if let Some(v) = env.get("CODEXD_LOG_FILE") {
        settings.log_file = PathBuf::from(v);
    }
    if let Some(v) = env.get("CODEXD_CLIENT_VERSION") {
        if !is_version(&v) {
            return Err(ConfigError::Env {
                var: "CODEXD_CLIENT_VERSION",
                value: v,
                expected: "expected a Codex CLI version such as 0.157.1".into(),
            });
        }
        settings.client_version = v.trim().to_owned();
    }
    if let Some(v) = env.get("CODEXD_API_KEY") {
        settings.api_key = Some(Secret::new(v));
    }

    // The flag layer.
    if let Some(v) = &overrides.host {
        settings.host = v.clone();
    }
    if let Some(v) = overrides.port {
        settings.port = v;
    }
    if let Some(v) = &overrides.codex_base_url {
        settings.codex_base_url = v.clone();
    }
    if let Some(v) = overrides.passthrough {
        settings.passthrough = v;
    }
    if let Some(v) = &overrides.log_level {
        settings.log_level = v.clone();
    }

    validate(settings)
}

/// The config file these overrides and the process environment point at,
/// whether or not it exists (a reload watches it).
pub fn config_path(overrides: &Overrides) -> PathBuf {
    config_path_with(overrides, &ProcessEnv).0
}

/// The config file, and whether it was asked for by name (then it must exist).
fn config_path_with(overrides: &Overrides, env: &dyn Env) -> (PathBuf, bool) {
    match (&overrides.config, env.get("CODEXD_CONFIG")) {
        (Some(p), _) => (p.clone(), true),
        (None, Some(p)) => (PathBuf::from(p), true),
        (None, None) => (default_config_path(), false),
    }
}

fn read_file(path: &Path, required: bool) -> Result<Option<FileSettings>, ConfigError> {
    let file_error = |message: String| ConfigError::File { path: path.to_path_buf(), message };
    if !path.exists() {
        return if required { Err(file_error("no such file".into())) } else { Ok(None) };
    }
    let source = config::File::from(path).format(config::FileFormat::Toml).required(true);
    let parsed = config::Config::builder().add_source(source).build().map_err(|e| file_error(e.to_string()))?;
    parsed.try_deserialize::<FileSettings>().map(Some).map_err(|e| file_error(e.to_string()))
}

fn apply_file(settings: &mut Settings, file: FileSettings, path: &Path) -> Result<(), ConfigError> {
    let invalid = |key: &'static str, message: &str| ConfigError::Invalid {
        origin: format!("config file {}", path.display()),
        key,
        message: message.into(),
    };
    if let Some(v) = file.host {
        settings.host = v;
    }
    if let Some(v) = file.port {
        if v == 0 {
            return Err(invalid("port", "must be a port number from 1 to 65535"));
        }
        settings.port = v;
    }
    if let Some(v) = file.codex_base_url {
        settings.codex_base_url = v;
    }
    if let Some(v) = file.passthrough {
        settings.passthrough = v;
    }
    if let Some(v) = file.request_timeout {
        if v == 0 {
            return Err(invalid("request_timeout", "must be a positive number of seconds"));
        }
        settings.request_timeout = Duration::from_secs(v);
    }
    if let Some(v) = file.log_level {
        settings.log_level = v;
    }
    if let Some(v) = file.log_file {
        settings.log_file = v;
    }
    if let Some(v) = file.auth_issuer {
        settings.auth_issuer = v;
    }
    if let Some(v) = file.api_key {
        settings.api_key = Some(Secret::new(v));
    }
    if let Some(v) = file.allowed_hosts {
        settings.allowed_hosts = v;
    }
    if let Some(v) = file.allowed_origins {
        settings.allowed_origins = v;
    }
    if let Some(v) = file.max_body_mb {
        if v == 0 || v > 1024 {
            return Err(invalid("max_body_mb", "must be a number of MiB from 1 to 1024"));
        }
        settings.max_body_bytes = usize::try_from(v * 1024 * 1024).unwrap_or(usize::MAX);
    }
    if let Some(v) = file.max_concurrent_requests {
        if v == 0 {
            return Err(invalid("max_concurrent_requests", "must be at least 1"));
        }
        settings.max_concurrent_requests = v;
    }
    for (key, value, slot) in [
        ("connect_timeout", file.connect_timeout, &mut settings.connect_timeout),
        ("read_timeout", file.read_timeout, &mut settings.read_timeout),
        ("ping_interval", file.ping_interval, &mut settings.ping_interval),
    ] {
        if let Some(v) = value {
            if v == 0 {
                return Err(invalid(key, "must be a positive number of seconds"));
            }
            *slot = Duration::from_secs(v);
        }
    }
    if let Some(v) = file.proxy {
        let scheme_ok = ["http://", "https://", "socks5://", "socks5h://"].iter().any(|s| v.starts_with(s));
        if !scheme_ok || v.contains(char::is_whitespace) {
            return Err(invalid("proxy", "must be an http://, https://, socks5:// or socks5h:// URL"));
        }
        settings.proxy = Some(v);
    }
    if let Some(v) = file.client_version {
        if !is_version(&v) {
            return Err(invalid("client_version", "must be a Codex CLI version such as \"0.157.1\""));
        }
        settings.client_version = v.trim().to_owned();
    }
    if let Some(v) = file.responses_lite {
        settings.responses_lite = match v.as_str() {
            "auto" => LitePolicy::Auto,
            "always" => LitePolicy::Always,
            _ => return Err(invalid("responses_lite", "must be \"auto\" or \"always\"")),
        };
    }
    if let Some(v) = file.verbosity {
        if !matches!(v.as_str(), "low" | "medium" | "high") {
            return Err(invalid("verbosity", "must be \"low\", \"medium\" or \"high\""));
        }
        settings.verbosity = Some(v);
    }
    if let Some(models) = file.models {
        let m = &mut settings.models;
        for (slot, value) in [
            (&mut m.haiku, models.haiku),
            (&mut m.sonnet, models.sonnet),
            (&mut m.opus, models.opus),
            (&mut m.default, models.default),
        ] {
            if let Some(v) = value {
                *slot = v;
            }
        }
        m.exact = models.exact;
    }
    Ok(())
}

fn validate(mut s: Settings) -> Result<Settings, ConfigError> {
    let origin = || "settings".to_string();
    for (key, url) in [("codex_base_url", &mut s.codex_base_url), ("auth_issuer", &mut s.auth_issuer)] {
        let trimmed = url.trim_end_matches('/').to_string();
        if !(trimmed.starts_with("http://") || trimmed.starts_with("https://")) {
            return Err(ConfigError::Invalid {
                origin: origin(),
                key,
                message: format!("must be an http:// or https:// URL, got {trimmed:?}"),
            });
        }
        *url = trimmed;
    }
    if s.host.trim().is_empty() {
        return Err(ConfigError::Invalid { origin: origin(), key: "host", message: "must not be empty".into() });
    }
    if !is_loopback_host(&s.host) && s.api_key.is_none() {
        return Err(ConfigError::Invalid {
            origin: origin(),
            key: "host",
            message: format!(
                "{:?} is not a loopback address: anyone who can reach it could use your ChatGPT login. \
                 Set api_key (or CODEXD_API_KEY) to allow it, or listen on 127.0.0.1",
                s.host
            ),
        });
    }
    if s.api_key.as_ref().is_some_and(|k| k.expose().trim().is_empty()) {
        return Err(ConfigError::Invalid {
            origin: origin(),
            key: "api_key",
            message: "must not be empty when set".into(),
        });
    }
    if !is_log_filter(&s.log_level) {
        return Err(ConfigError::Invalid {
            origin: origin(),
            key: "log_level",
            message: format!("{:?} is not a level (error, warn, info, debug, trace) or filter", s.log_level),
        });
    }
    let m = &s.models;
    let all = [&m.haiku, &m.sonnet, &m.opus, &m.default].into_iter().chain(m.exact.values());
    if all.into_iter().any(|v| v.trim().is_empty()) {
        return Err(ConfigError::Invalid {
            origin: origin(),
            key: "models",
            message: "model names must not be empty".into(),
        });
    }
    Ok(s)
}

/// A level (`info`) or tracing directives (`codexd=debug,actix_web=warn`).
/// Stricter than `EnvFilter`, which takes any word as a target name, so a
/// typo such as `inof` is caught instead of silencing every log line.
fn is_log_filter(filter: &str) -> bool {
    const LEVELS: [&str; 6] = ["off", "error", "warn", "info", "debug", "trace"];
    let is_level = |s: &str| LEVELS.contains(&s.to_ascii_lowercase().as_str());
    let is_target =
        |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':' || c == '-');
    !filter.trim().is_empty()
        && filter.split(',').map(str::trim).all(|directive| match directive.split_once('=') {
            Some((target, level)) => is_target(target) && is_level(level),
            None => is_level(directive),
        })
        && tracing_subscriber::EnvFilter::try_new(filter).is_ok()
}

/// `0.157.1`: three dot-separated numbers, as the Codex CLI's versions are.
pub fn is_version(v: &str) -> bool {
    let parts: Vec<&str> = v.trim().split('.').collect();
    parts.len() == 3 && parts.iter().all(|p| !p.is_empty() && p.len() <= 6 && p.bytes().all(|b| b.is_ascii_digit()))
}

fn parse_port(v: &str) -> Result<u16, String> {
    match v.trim().parse::<u16>() {
        Ok(p) if p > 0 => Ok(p),
        _ => Err("expected a port number from 1 to 65535".into()),
    }
}

/// `localhost`, `127.0.0.0/8` and `::1`, with or without brackets.
pub fn is_loopback_host(host: &str) -> bool {
    let host = host.trim().trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost") || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// `true/1/yes/on` or `false/0/no/off`, any case.
pub fn parse_bool(v: &str) -> Option<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Some(true),
        "false" | "0" | "no" | "off" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn env(pairs: &[(&'static str, &'static str)]) -> BTreeMap<&'static str, &'static str> {
        pairs.iter().copied().collect()
    }

    fn with_file(contents: &str) -> (tempfile::NamedTempFile, Overrides) {
        let mut file = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
        file.write_all(contents.as_bytes()).unwrap();
        let overrides = Overrides { config: Some(file.path().to_path_buf()), ..Overrides::default() };
        (file, overrides)
    }

    #[test]
    fn defaults_when_nothing_is_set() {
        let (_f, o) = with_file("");
        let s = load_with(&o, &env(&[])).unwrap();
        assert_eq!(s.host, "127.0.0.1");
        assert_eq!(s.port, 19080);
        assert_eq!(s.codex_base_url, "https://chatgpt.com/backend-api");
        assert!(s.passthrough);
        assert_eq!(s.models, ModelMap::default());
        assert_eq!(s.log_file, PathBuf::from("/tmp/chatgpt-codex-proxy.log"));
    }

    #[test]
    fn client_version_lite_policy_and_verbosity_come_from_file_and_env() {
        let (_f, o) = with_file(
            r#"
            client_version = "0.160.0"
            responses_lite = "always"
            verbosity = "medium"
            "#,
        );
        let from_file = load_with(&o, &env(&[])).unwrap();
        assert_eq!(from_file.client_version, "0.160.0");
        assert_eq!(from_file.responses_lite, LitePolicy::Always);
        assert_eq!(from_file.verbosity.as_deref(), Some("medium"));
        let from_env = load_with(&o, &env(&[("CODEXD_CLIENT_VERSION", "0.161.2")])).unwrap();
        assert_eq!(from_env.client_version, "0.161.2");

        let (_f, defaults) = with_file("");
        let d = load_with(&defaults, &env(&[])).unwrap();
        assert_eq!(
            (d.client_version.as_str(), d.responses_lite, d.verbosity),
            (DEFAULT_CLIENT_VERSION, LitePolicy::Auto, None)
        );

        let err = load_with(&defaults, &env(&[("CODEXD_CLIENT_VERSION", "latest")])).unwrap_err().to_string();
        assert!(err.contains("CODEXD_CLIENT_VERSION") && err.contains("0.157.1"), "{err}");
        for (bad, key) in [
            (r#"client_version = "0.157""#, "client_version"),
            (r#"proxy = "ftp://proxy.example""#, "proxy"),
            (r#"proxy = "http://a b""#, "proxy"),
            (r#"responses_lite = "never""#, "responses_lite"),
            (r#"verbosity = "loud""#, "verbosity"),
        ] {
            let (_f, o) = with_file(bad);
            let err = load_with(&o, &env(&[])).unwrap_err().to_string();
            assert!(err.contains("config file") && err.contains(key), "{bad}: {err}");
        }
    }

    #[test]
    fn layers_apply_in_order_defaults_file_env_flags() {
        let (_f, mut o) = with_file(
            r#"
            port = 1000
            passthrough = false
            codex_base_url = "http://file.example/"
            request_timeout = 30
            [models]
            sonnet = "file-sonnet"
            "claude-opus-4-1" = "gpt-exact"
            "#,
        );
        let from_file = load_with(&o, &env(&[])).unwrap();
        assert_eq!(from_file.port, 1000);
        assert!(!from_file.passthrough);
        assert_eq!(from_file.codex_base_url, "http://file.example", "trailing slash trimmed");
        assert_eq!(from_file.request_timeout, Duration::from_secs(30));
        assert_eq!(from_file.models.sonnet, "file-sonnet");
        assert_eq!(from_file.models.exact.get("claude-opus-4-1").map(String::as_str), Some("gpt-exact"));

        let e = env(&[("PORT", "2000"), ("PASSTHROUGH_MODE", "yes"), ("ANTHROPIC_DEFAULT_SONNET_MODEL", "env-sonnet")]);
        let from_env = load_with(&o, &e).unwrap();
        assert_eq!(from_env.port, 2000);
        assert!(from_env.passthrough);
        assert_eq!(from_env.models.env.sonnet.as_deref(), Some("env-sonnet"));
        assert_eq!(from_env.models.sonnet, "file-sonnet", "file value kept; env override is separate");

        o.port = Some(3000);
        o.passthrough = Some(false);
        let from_flags = load_with(&o, &e).unwrap();
        assert_eq!(from_flags.port, 3000);
        assert!(!from_flags.passthrough);
    }

    #[test]
    fn non_loopback_hosts_need_an_api_key() {
        let (_f, mut o) = with_file("");
        o.host = Some("0.0.0.0".into());
        let err = load_with(&o, &env(&[])).unwrap_err().to_string();
        assert!(err.contains("api_key"), "{err}");
        let s = load_with(&o, &env(&[("CODEXD_API_KEY", "k")])).unwrap();
        assert_eq!(s.api_key.as_ref().map(Secret::expose), Some("k"));
        assert!(!format!("{s:?}").contains("\"k\""), "the key is redacted in Debug");
        for host in ["127.0.0.1", "127.8.9.10", "localhost", "::1", "[::1]"] {
            assert!(is_loopback_host(host), "{host}");
        }
        for host in ["0.0.0.0", "192.168.1.2", "example.com", "::"] {
            assert!(!is_loopback_host(host), "{host}");
        }
    }

    #[test]
    fn limits_and_timeouts_from_the_file() {
        let (_f, o) = with_file("max_body_mb = 8\nmax_concurrent_requests = 3\nread_timeout = 7\nallowed_origins = [\"https://ok.example\"]");
        let s = load_with(&o, &env(&[])).unwrap();
        assert_eq!(s.max_body_bytes, 8 * 1024 * 1024);
        assert_eq!(s.max_concurrent_requests, 3);
        assert_eq!(s.read_timeout, Duration::from_secs(7));
        assert_eq!(s.allowed_origins, ["https://ok.example"]);
        let (_f, o) = with_file("max_body_mb = 0");
        assert!(load_with(&o, &env(&[])).unwrap_err().to_string().contains("max_body_mb"));
    }

    #[test]
    fn log_filters() {
        for ok in ["info", "DEBUG", "codexd=debug", "codexd=trace,actix_web=warn", "off"] {
            assert!(is_log_filter(ok), "{ok}");
        }
        for bad in ["", "inof", "loud!!", "codexd=loud", "=info"] {
            assert!(!is_log_filter(bad), "{bad}");
        }
    }

    #[test]
    fn passthrough_mode_spellings() {
        for (value, want) in [
            ("true", true),
            ("1", true),
            ("YES", true),
            ("on", true),
            ("false", false),
            ("0", false),
            ("no", false),
            ("Off", false),
        ] {
            assert_eq!(parse_bool(value), Some(want), "{value}");
        }
        assert_eq!(parse_bool("maybe"), None);
    }

    #[test]
    fn bad_values_name_their_origin() {
        let (_f, o) = with_file("");
        let err = load_with(&o, &env(&[("PORT", "abc")])).unwrap_err();
        assert!(err.to_string().contains("PORT=\"abc\""), "{err}");
        assert!(err.to_string().contains("port number"), "{err}");

        let err = load_with(&o, &env(&[("PASSTHROUGH_MODE", "perhaps")])).unwrap_err();
        assert!(err.to_string().contains("PASSTHROUGH_MODE"), "{err}");

        let err = load_with(&o, &env(&[("CODEX_BASE_URL", "chatgpt.com")])).unwrap_err();
        assert!(err.to_string().contains("codex_base_url"), "{err}");
    }

    #[test]
    fn file_errors_name_the_file_and_key() {
        let cases = [
            ("port = \"abc\"", "port"),
            ("prot = 1", "prot"),
            ("port = [", ""),
            ("port = 0", "port"),
            ("[models]\nsonnet = [1]", "sonnet"),
            ("log_level = \"loud!!\"", "log_level"),
        ];
        for (contents, key) in cases {
            let (f, o) = with_file(contents);
            let err = load_with(&o, &env(&[])).unwrap_err().to_string();
            assert!(err.contains(key), "{contents:?}: {err}");
            if !contents.starts_with("log_level") {
                assert!(err.contains(&f.path().display().to_string()), "{contents:?}: {err}");
            }
        }
    }

    #[test]
    fn a_named_missing_file_is_an_error_but_the_default_one_is_not() {
        let o = Overrides { config: Some(PathBuf::from("/nonexistent/codexd.toml")), ..Overrides::default() };
        let err = load_with(&o, &env(&[])).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/codexd.toml"));
        let dir = tempfile::tempdir().unwrap();
        let e: BTreeMap<&str, &str> = BTreeMap::new();
        // The default location is derived from XDG_CONFIG_HOME of the process; just check absence is fine.
        assert!(read_file(&dir.path().join("absent.toml"), false).unwrap().is_none());
        let _ = e;
    }

    #[test]
    fn every_env_override_is_read() {
        let (_f, o) = with_file("");
        let values: Vec<(&'static str, &'static str)> = ENV_OVERRIDES
            .iter()
            .map(|&var| {
                (
                    var,
                    if var == "PORT" {
                        "4321"
                    } else if var == "PASSTHROUGH_MODE" {
                        "off"
                    } else if var == "CODEXD_CLIENT_VERSION" {
                        "0.170.0"
                    } else {
                        "http://x.test"
                    },
                )
            })
            .collect();
        let s = load_with(&o, &env(&values)).unwrap();
        assert_eq!(s.port, 4321);
        assert!(!s.passthrough);
        assert_eq!(s.codex_base_url, "http://x.test");
        assert_eq!(s.auth_issuer, "http://x.test");
        assert_eq!(s.log_file, PathBuf::from("http://x.test"));
        assert_eq!(s.models.env.haiku.as_deref(), Some("http://x.test"));
        assert_eq!(s.models.env.sonnet.as_deref(), Some("http://x.test"));
        assert_eq!(s.models.env.opus.as_deref(), Some("http://x.test"));
        assert_eq!(s.client_version, "0.170.0");
    }

    #[test]
    fn codexd_config_env_names_the_file() {
        let (f, _) = with_file("port = 4242");
        let path = f.path().display().to_string();
        let e: BTreeMap<&str, &str> = [("CODEXD_CONFIG", path.as_str())].into_iter().collect();
        assert_eq!(load_with(&Overrides::default(), &e).unwrap().port, 4242);
    }

    #[test]
    fn the_shipped_example_config_is_valid_and_matches_the_defaults() {
        let example = concat!(env!("CARGO_MANIFEST_DIR"), "/config/codexd.toml");
        let o = Overrides { config: Some(PathBuf::from(example)), ..Overrides::default() };
        let mut s = load_with(&o, &env(&[])).unwrap();
        s.config_file = None;
        assert_eq!(s, Settings::defaults());
    }
}
