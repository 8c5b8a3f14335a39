//! Settings: what codexd runs with, and where each value came from.
//!
//! Layers, lowest first: built-in defaults < TOML file < environment < flags.
//! The file is `--config PATH`, else `$CODEXD_CONFIG`, else
//! `$XDG_CONFIG_HOME/codexd/config.toml` (`~/.config/codexd/config.toml`); a
//! missing file at the default location is fine, a missing file that was
//! asked for by name is not. Every bad value stops the program with a message
//! that names where it came from (file and key, or variable) and what is
//! expected.
//!
//! Each key is defined once, in [`KEYS`]: file key, environment variable,
//! flag, parser, restart rule and doc line. The layers, the reload rule
//! ([`keep_restart_only`]) and the service's forwarded environment
//! ([`env_overrides`]) are derived from it; a test holds the README table and
//! `config/codexd.toml` to it. File values are read as their TOML type and
//! never coerced.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

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

impl Overrides {
    /// The value given for `flag` (a [`Key::flag`]) as text, if any.
    fn get(&self, flag: &str) -> Option<String> {
        match flag {
            "--host" => self.host.clone(),
            "--port" => self.port.map(|p| p.to_string()),
            "--codex-base-url" => self.codex_base_url.clone(),
            "--passthrough" => self.passthrough.map(|b| b.to_string()),
            "--log-level" => self.log_level.clone(),
            _ => None,
        }
    }
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

/// Where the value in force for a key came from, kept until the checks that
/// look at several keys have run, so every error can name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    Default,
    File(PathBuf),
    Env(&'static str),
    Flag(&'static str),
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::Default => f.write_str("the built-in default"),
            Origin::File(path) => write!(f, "config file {}", path.display()),
            Origin::Env(var) => write!(f, "environment variable {var}"),
            Origin::Flag(flag) => write!(f, "flag {flag}"),
        }
    }
}

/// A value as one layer gives it: typed from the TOML file, text from the
/// environment or a flag. Parsers take each kind strictly: the file's
/// `ping_interval = 1.5` or `passthrough = "yes"` is an error, not coerced.
#[derive(Debug, Clone, Copy)]
pub enum Raw<'a> {
    Toml(&'a toml::Value),
    Text(&'a str),
}

/// One setting, defined once (the shape of ripgrep's flag definitions): its
/// file key, environment variable and flag, whether a running daemon can take
/// a new value, its doc line, and its parser. The layers, the reload rule,
/// the service's forwarded environment and the documentation check all come
/// from [`KEYS`].
pub struct Key {
    /// The key in the config file; `models.x` is `x` in its `[models]` table.
    pub file: &'static str,
    /// The environment variable that overrides the file, if any.
    pub env: Option<&'static str>,
    /// The `codexd serve` flag that overrides both, if any.
    pub flag: Option<&'static str>,
    /// A secret: never forwarded into a service definition's plain text.
    pub secret: bool,
    /// One line for the documentation.
    pub doc: &'static str,
    /// Parse one layer's value into the settings, or say what is expected.
    pub set: fn(&mut Settings, Raw<'_>, &Origin) -> Result<(), String>,
    /// For keys only a restart can change: put the old value back into the
    /// new settings and say whether it differed.
    pub restart: Option<fn(&mut Settings, &Settings) -> bool>,
}

/// `Key::restart` for a key kept in one field.
macro_rules! keep {
    ($field:ident) => {
        Some(|new: &mut Settings, old: &Settings| {
            let changed = new.$field != old.$field;
            if changed {
                new.$field = old.$field.clone();
            }
            changed
        })
    };
}

/// Every setting codexd knows. To add one: a field in [`Settings`] (and its
/// default in [`Settings::defaults`]), a row here, a row in the README's
/// configuration table and an entry in `config/codexd.toml` (a test checks
/// the last two).
pub const KEYS: &[Key] = &[
    Key {
        file: "host",
        env: None,
        flag: Some("--host"),
        secret: false,
        doc: "address to listen on; not loopback only with api_key",
        set: |s, v, _| {
            s.host = nonempty(v)?;
            Ok(())
        },
        restart: keep!(host),
    },
    Key {
        file: "port",
        env: Some("PORT"),
        flag: Some("--port"),
        secret: false,
        doc: "port to listen on",
        set: |s, v, _| {
            s.port = u16::try_from(int(v, 1, 65535, "a port number from 1 to 65535")?).unwrap_or(DEFAULT_PORT);
            Ok(())
        },
        restart: keep!(port),
    },
    Key {
        file: "codex_base_url",
        env: Some("CODEX_BASE_URL"),
        flag: Some("--codex-base-url"),
        secret: false,
        doc: "the ChatGPT Codex backend; requests go to {codex_base_url}/codex/responses",
        set: |s, v, _| {
            s.codex_base_url = url(v)?;
            Ok(())
        },
        restart: keep!(codex_base_url),
    },
    Key {
        file: "passthrough",
        env: Some("PASSTHROUGH_MODE"),
        flag: Some("--passthrough"),
        secret: false,
        doc: "send non-Claude model names upstream unchanged",
        set: |s, v, _| {
            s.passthrough = boolean(v)?;
            Ok(())
        },
        restart: None,
    },
    Key {
        file: "request_timeout",
        env: None,
        flag: None,
        secret: false,
        doc: "seconds to wait for the Codex backend to start answering",
        set: |s, v, _| {
            s.request_timeout = seconds(v)?;
            Ok(())
        },
        restart: keep!(request_timeout),
    },
    Key {
        file: "connect_timeout",
        env: None,
        flag: None,
        secret: false,
        doc: "seconds to wait for a connection to the Codex backend",
        set: |s, v, _| {
            s.connect_timeout = seconds(v)?;
            Ok(())
        },
        restart: keep!(connect_timeout),
    },
    Key {
        file: "read_timeout",
        env: None,
        flag: None,
        secret: false,
        doc: "seconds an upstream stream may stay silent",
        set: |s, v, _| {
            s.read_timeout = seconds(v)?;
            Ok(())
        },
        restart: None,
    },
    Key {
        file: "ping_interval",
        env: None,
        flag: None,
        secret: false,
        doc: "seconds of quiet after which a stream gets a ping event",
        set: |s, v, _| {
            s.ping_interval = seconds(v)?;
            Ok(())
        },
        restart: None,
    },
    Key {
        file: "max_body_mb",
        env: None,
        flag: None,
        secret: false,
        doc: "largest request body accepted, in MiB",
        set: |s, v, _| {
            let mb = int(v, 1, 1024, "a number of MiB from 1 to 1024")?;
            s.max_body_bytes = usize::try_from(mb * 1024 * 1024).unwrap_or(usize::MAX);
            Ok(())
        },
        restart: None,
    },
    Key {
        file: "max_concurrent_requests",
        env: None,
        flag: None,
        secret: false,
        doc: "upstream requests in flight at once; more get 529",
        set: |s, v, _| {
            let n = int(v, 1, i64::from(u32::MAX), "at least 1")?;
            s.max_concurrent_requests = usize::try_from(n).unwrap_or(usize::MAX);
            Ok(())
        },
        restart: None,
    },
    Key {
        file: "api_key",
        env: Some("CODEXD_API_KEY"),
        flag: None,
        secret: true,
        doc: "a local key every client must send",
        set: |s, v, _| {
            s.api_key = Some(Secret::new(text(v)?));
            Ok(())
        },
        restart: None,
    },
    Key {
        file: "allowed_hosts",
        env: None,
        flag: None,
        secret: false,
        doc: "Host header values accepted besides loopback names and host",
        set: |s, v, _| {
            s.allowed_hosts = strings(v)?;
            Ok(())
        },
        restart: None,
    },
    Key {
        file: "allowed_origins",
        env: None,
        flag: None,
        secret: false,
        doc: "browser origins allowed to call codexd",
        set: |s, v, _| {
            let origins = strings(v)?;
            if origins.iter().any(|o| o.trim() == "*") {
                return Err("may not contain \"*\": it would let every web page you visit use your ChatGPT \
                            login; list each origin, e.g. \"http://localhost:3000\""
                    .into());
            }
            s.allowed_origins = origins;
            Ok(())
        },
        restart: None,
    },
    Key {
        file: "log_level",
        env: None,
        flag: Some("--log-level"),
        secret: false,
        doc: "log filter (RUST_LOG wins)",
        set: |s, v, _| {
            let level = text(v)?;
            if !is_log_filter(&level) {
                return Err(format!("{level:?} is not a level (error, warn, info, debug, trace) or filter"));
            }
            s.log_level = level;
            Ok(())
        },
        restart: None,
    },
    Key {
        file: "log_file",
        env: Some("CODEXD_LOG_FILE"),
        flag: None,
        secret: false,
        doc: "the log file, rotated",
        set: |s, v, _| {
            s.log_file = PathBuf::from(nonempty(v)?);
            Ok(())
        },
        restart: keep!(log_file),
    },
    Key {
        file: "auth_issuer",
        env: Some("CODEXD_AUTH_ISSUER"),
        flag: None,
        secret: false,
        doc: "OAuth issuer for login and refresh",
        set: |s, v, _| {
            s.auth_issuer = url(v)?;
            Ok(())
        },
        restart: keep!(auth_issuer),
    },
    Key {
        file: "client_version",
        env: Some("CODEXD_CLIENT_VERSION"),
        flag: None,
        secret: false,
        doc: "the Codex CLI version codexd presents",
        set: |s, v, _| {
            let version = text(v)?;
            if !is_version(&version) {
                return Err("must be a Codex CLI version such as \"0.157.1\"".into());
            }
            s.client_version = version.trim().to_owned();
            Ok(())
        },
        restart: keep!(client_version),
    },
    Key {
        file: "responses_lite",
        env: None,
        flag: None,
        secret: false,
        doc: "which models use the Responses Lite lane: auto or always",
        set: |s, v, _| {
            s.responses_lite = match text(v)?.as_str() {
                "auto" => LitePolicy::Auto,
                "always" => LitePolicy::Always,
                _ => return Err("must be \"auto\" or \"always\"".into()),
            };
            Ok(())
        },
        restart: None,
    },
    Key {
        file: "proxy",
        env: None,
        flag: None,
        secret: false,
        doc:
            "proxy for the upstream and OAuth calls (http://, https://, socks5://); else HTTPS_PROXY/ALL_PROXY/NO_PROXY",
        set: |s, v, _| {
            let proxy = text(v)?;
            let scheme_ok = ["http://", "https://", "socks5://", "socks5h://"].iter().any(|p| proxy.starts_with(p));
            if !scheme_ok || proxy.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err("must be an http://, https://, socks5:// or socks5h:// URL".into());
            }
            s.proxy = Some(proxy);
            Ok(())
        },
        restart: keep!(proxy),
    },
    Key {
        file: "verbosity",
        env: None,
        flag: None,
        secret: false,
        doc: "text.verbosity for every request: low, medium or high",
        set: |s, v, _| {
            let verbosity = text(v)?;
            if !matches!(verbosity.as_str(), "low" | "medium" | "high") {
                return Err("must be \"low\", \"medium\" or \"high\"".into());
            }
            s.verbosity = Some(verbosity);
            Ok(())
        },
        restart: None,
    },
    Key {
        file: "models.haiku",
        env: Some("ANTHROPIC_DEFAULT_HAIKU_MODEL"),
        flag: None,
        secret: false,
        doc: "the Codex model for Claude haiku names",
        set: |s, v, origin| {
            let model = nonempty(v)?;
            match origin {
                Origin::Env(_) => s.models.env.haiku = Some(model),
                _ => s.models.haiku = model,
            }
            Ok(())
        },
        restart: None,
    },
    Key {
        file: "models.sonnet",
        env: Some("ANTHROPIC_DEFAULT_SONNET_MODEL"),
        flag: None,
        secret: false,
        doc: "the Codex model for Claude sonnet names",
        set: |s, v, origin| {
            let model = nonempty(v)?;
            match origin {
                Origin::Env(_) => s.models.env.sonnet = Some(model),
                _ => s.models.sonnet = model,
            }
            Ok(())
        },
        restart: None,
    },
    Key {
        file: "models.opus",
        env: Some("ANTHROPIC_DEFAULT_OPUS_MODEL"),
        flag: None,
        secret: false,
        doc: "the Codex model for Claude opus names",
        set: |s, v, origin| {
            let model = nonempty(v)?;
            match origin {
                Origin::Env(_) => s.models.env.opus = Some(model),
                _ => s.models.opus = model,
            }
            Ok(())
        },
        restart: None,
    },
    Key {
        file: "models.default",
        env: None,
        flag: None,
        secret: false,
        doc: "the Codex model for Claude names of no tier",
        set: |s, v, _| {
            s.models.default = nonempty(v)?;
            Ok(())
        },
        restart: None,
    },
];

/// A table of the file whose other keys are free-form entries: `[models]`
/// holds `"claude-…" = "gpt-…"` besides its tier keys.
const ENTRY_TABLE: &str = "models";

/// Settings that only say where things are (`home`, from `CODEXD_HOME`) and
/// need a restart too, besides the keys marked so in [`KEYS`].
const RESTART_PATHS: &[(&str, fn(&mut Settings, &Settings) -> bool)] = &[("home", keep!(home).unwrap())];

/// Put back into `new` every value only a restart can change, and name the
/// keys whose value differed (for `AppState::reload`).
pub fn keep_restart_only(new: &mut Settings, old: &Settings) -> Vec<&'static str> {
    let keys = KEYS.iter().filter_map(|key| Some((key.file, key.restart?)));
    keys.chain(RESTART_PATHS.iter().copied()).filter(|(_, keep)| keep(new, old)).map(|(name, _)| name).collect()
}

/// The environment variables that override settings (besides `CODEXD_HOME`
/// and `CODEXD_CONFIG`, which say where things are, and secrets such as
/// `CODEXD_API_KEY`). A service definition passes these on.
pub fn env_overrides() -> impl Iterator<Item = &'static str> {
    KEYS.iter().filter(|key| !key.secret).filter_map(|key| key.env)
}

// Parsers: each takes a value of one kind only, and says what it expected.

fn describe(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => format!("the string {s:?}"),
        toml::Value::Integer(n) => n.to_string(),
        toml::Value::Float(x) => format!("{x:?}"),
        toml::Value::Boolean(b) => b.to_string(),
        toml::Value::Datetime(_) => "a date".into(),
        toml::Value::Array(_) => "a list".into(),
        toml::Value::Table(_) => "a table".into(),
    }
}

fn text(v: Raw<'_>) -> Result<String, String> {
    match v {
        Raw::Text(t) => Ok(t.to_owned()),
        Raw::Toml(toml::Value::String(s)) => Ok(s.clone()),
        Raw::Toml(other) => Err(format!("must be a string (in quotes), got {}", describe(other))),
    }
}

fn nonempty(v: Raw<'_>) -> Result<String, String> {
    let s = text(v)?;
    if s.trim().is_empty() {
        return Err("must not be empty".into());
    }
    Ok(s)
}

fn int(v: Raw<'_>, min: i64, max: i64, expected: &str) -> Result<i64, String> {
    let n = match v {
        Raw::Text(t) => t.trim().parse::<i64>().map_err(|_| format!("must be {expected}, got {t:?}"))?,
        Raw::Toml(toml::Value::Integer(n)) => *n,
        Raw::Toml(other) => return Err(format!("must be {expected} (a whole number), got {}", describe(other))),
    };
    if n < min || n > max {
        return Err(format!("must be {expected}, got {n}"));
    }
    Ok(n)
}

fn seconds(v: Raw<'_>) -> Result<Duration, String> {
    int(v, 1, 365 * 24 * 3600, "a positive whole number of seconds").map(|n| Duration::from_secs(n as u64))
}

fn boolean(v: Raw<'_>) -> Result<bool, String> {
    match v {
        Raw::Text(t) => parse_bool(t).ok_or_else(|| "expected true/1/yes/on or false/0/no/off".to_string()),
        Raw::Toml(toml::Value::Boolean(b)) => Ok(*b),
        Raw::Toml(other) => Err(format!("must be true or false (without quotes), got {}", describe(other))),
    }
}

fn strings(v: Raw<'_>) -> Result<Vec<String>, String> {
    let expected = || "must be a list of strings, e.g. [\"a\", \"b\"]".to_string();
    match v {
        Raw::Toml(toml::Value::Array(items)) => items
            .iter()
            .map(|item| {
                item.as_str().map(str::to_owned).ok_or_else(|| format!("{}, got {}", expected(), describe(item)))
            })
            .collect(),
        _ => Err(expected()),
    }
}

/// An `http://` or `https://` URL with a host, no whitespace or control
/// characters anywhere; the trailing slash is dropped.
fn url(v: Raw<'_>) -> Result<String, String> {
    let raw = text(v)?;
    let trimmed = raw.trim_end_matches('/');
    let rest = trimmed.strip_prefix("https://").or_else(|| trimmed.strip_prefix("http://"));
    let Some(rest) = rest else {
        return Err(format!("must be an http:// or https:// URL, got {raw:?}"));
    };
    if trimmed.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("must be a URL without spaces or control characters, got {raw:?}"));
    }
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if host.is_empty() || host.starts_with(':') || host.contains('@') {
        return Err(format!("must be an http:// or https:// URL with a host name, got {raw:?}"));
    }
    Ok(trimmed.to_owned())
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
    let mut origins: BTreeMap<&'static str, Origin> = BTreeMap::new();

    // The file layer.
    let (path, required) = config_path_with(overrides, env);
    if let Some(table) = if with_file { read_file(&path, required)? } else { None } {
        apply_file(&mut settings, &table, &path, &mut origins)?;
        settings.config_file = Some(path);
    }

    // The environment layer.
    for key in KEYS {
        let Some(var) = key.env else { continue };
        if let Some(value) = env.get(var) {
            let origin = Origin::Env(var);
            (key.set)(&mut settings, Raw::Text(&value), &origin).map_err(|expected| ConfigError::Env {
                var,
                value,
                expected,
            })?;
            origins.insert(key.file, origin);
        }
    }

    // The flag layer.
    for key in KEYS {
        let Some(flag) = key.flag else { continue };
        if let Some(value) = overrides.get(flag) {
            let origin = Origin::Flag(flag);
            (key.set)(&mut settings, Raw::Text(&value), &origin).map_err(|message| ConfigError::Invalid {
                origin: origin.to_string(),
                key: key.file,
                message,
            })?;
            origins.insert(key.file, origin);
        }
    }

    validate(settings, &origins)
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

fn read_file(path: &Path, required: bool) -> Result<Option<toml::Table>, ConfigError> {
    let file_error = |message: String| ConfigError::File { path: path.to_path_buf(), message };
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return if required { Err(file_error("no such file".into())) } else { Ok(None) };
        }
        Err(e) => return Err(file_error(format!("cannot be read: {e}"))),
    };
    text.parse::<toml::Table>().map(Some).map_err(|e| file_error(format!("is not valid TOML: {e}")))
}

/// Apply every key of the file through its [`Key`]; unknown keys are an
/// error, so a typo never goes unnoticed.
fn apply_file(
    settings: &mut Settings,
    table: &toml::Table,
    path: &Path,
    origins: &mut BTreeMap<&'static str, Origin>,
) -> Result<(), ConfigError> {
    let origin = Origin::File(path.to_path_buf());
    let file_error = |message: String| ConfigError::File { path: path.to_path_buf(), message };
    let mut flat: Vec<(String, &toml::Value)> = Vec::new();
    for (name, value) in table {
        match value {
            toml::Value::Table(inner) if name == ENTRY_TABLE => {
                flat.extend(inner.iter().map(|(k, v)| (format!("{name}.{k}"), v)));
            }
            _ => flat.push((name.clone(), value)),
        }
    }
    let mut exact = BTreeMap::new();
    for (name, value) in flat {
        if let Some(key) = KEYS.iter().find(|key| key.file == name) {
            (key.set)(settings, Raw::Toml(value), &origin).map_err(|message| ConfigError::Invalid {
                origin: origin.to_string(),
                key: key.file,
                message,
            })?;
            origins.insert(key.file, origin.clone());
        } else if let Some(claude) = name.strip_prefix("models.") {
            match value {
                toml::Value::String(model) if !model.trim().is_empty() => {
                    exact.insert(claude.to_owned(), model.clone());
                }
                other => {
                    return Err(file_error(format!(
                        "[models] \"{claude}\" must be a Codex model name in quotes, got {}",
                        describe(other)
                    )))
                }
            }
        } else {
            return Err(file_error(format!("unknown key `{name}` (see config/codexd.toml for every key)")));
        }
    }
    settings.models.exact = exact;
    Ok(())
}

/// The checks that look at more than one key; each error names where the
/// value it is about came from.
fn validate(s: Settings, origins: &BTreeMap<&'static str, Origin>) -> Result<Settings, ConfigError> {
    let origin = |key: &str| origins.get(key).cloned().unwrap_or(Origin::Default).to_string();
    if !is_loopback_host(&s.host) && s.api_key.is_none() {
        return Err(ConfigError::Invalid {
            origin: origin("host"),
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
            origin: origin("api_key"),
            key: "api_key",
            message: "must not be empty when set".into(),
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
            (r#"responses_lite = "never""#, "responses_lite"),
            (r#"verbosity = "loud""#, "verbosity"),
            (r#"proxy = "ftp://proxy.example""#, "proxy"),
            (r#"proxy = "http://a b""#, "proxy"),
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
        assert!(err.to_string().contains("CODEX_BASE_URL=\"chatgpt.com\""), "{err}");
        assert!(err.to_string().contains("http:// or https://"), "{err}");

        // A check across keys names where the value came from, too.
        let err = load_with(&Overrides { host: Some("0.0.0.0".into()), ..o.clone() }, &env(&[])).unwrap_err();
        assert!(err.to_string().starts_with("flag --host: `host`"), "{err}");
        let err = load_with(&o, &env(&[("CODEXD_API_KEY", " ")])).unwrap_err();
        assert!(err.to_string().starts_with("environment variable CODEXD_API_KEY: `api_key`"), "{err}");
        let err = load_with(&Overrides { log_level: Some("inof".into()), ..o.clone() }, &env(&[])).unwrap_err();
        assert!(err.to_string().starts_with("flag --log-level: `log_level`"), "{err}");
    }

    #[test]
    fn values_of_the_wrong_kind_are_refused_not_coerced() {
        for (contents, key, expected) in [
            ("ping_interval = 1.5", "ping_interval", "whole number"),
            ("passthrough = \"yes\"", "passthrough", "true or false"),
            ("port = \"19080\"", "port", "whole number"),
            ("[models]\nsonnet = 5", "models.sonnet", "string"),
            ("[models]\n\"claude-x\" = 5", "claude-x", "in quotes"),
            ("log_level = 3", "log_level", "string"),
            ("allowed_hosts = \"a\"", "allowed_hosts", "list of strings"),
            ("allowed_origins = [1]", "allowed_origins", "list of strings"),
            ("request_timeout = -1", "request_timeout", "positive"),
            ("max_body_mb = 2048", "max_body_mb", "1 to 1024"),
        ] {
            let (f, o) = with_file(contents);
            let err = load_with(&o, &env(&[])).unwrap_err().to_string();
            assert!(err.contains(key) && err.contains(expected), "{contents:?}: {err}");
            assert!(err.contains(&f.path().display().to_string()), "{contents:?}: {err}");
        }
    }

    #[test]
    fn urls_with_spaces_or_without_a_host_are_refused() {
        for bad in
            ["https://chatgpt.com/backend api", "https:// chatgpt.com", "https://", "http://:80/x", "https://a\tb"]
        {
            let (_f, o) = with_file(&format!("codex_base_url = {bad:?}"));
            let err = load_with(&o, &env(&[])).unwrap_err().to_string();
            assert!(err.contains("codex_base_url"), "{bad:?}: {err}");
            let (_f, none) = with_file("");
            let err = load_with(&none, &env(&[("CODEXD_AUTH_ISSUER", bad)])).unwrap_err().to_string();
            assert!(err.contains("CODEXD_AUTH_ISSUER"), "{bad:?}: {err}");
        }
        let (_f, o) = with_file("auth_issuer = \"http://127.0.0.1:8080/\"");
        assert_eq!(load_with(&o, &env(&[])).unwrap().auth_issuer, "http://127.0.0.1:8080");
    }

    #[test]
    fn a_wildcard_origin_is_refused_with_the_reason() {
        let (_f, o) = with_file("allowed_origins = [\"*\"]");
        let err = load_with(&o, &env(&[])).unwrap_err().to_string();
        assert!(err.contains("allowed_origins") && err.contains("every web page"), "{err}");
    }

    #[test]
    fn restart_only_keys_keep_their_value_and_are_named() {
        let old = Settings::defaults();
        let mut new = Settings::defaults();
        new.port = 1;
        new.client_version = "0.200.0".into();
        new.home = PathBuf::from("/elsewhere");
        new.passthrough = false;
        let kept = keep_restart_only(&mut new, &old);
        assert_eq!(kept, ["port", "client_version", "home"]);
        assert_eq!((new.port, new.client_version.as_str(), &new.home), (old.port, DEFAULT_CLIENT_VERSION, &old.home));
        assert!(!new.passthrough, "a reloadable key takes its new value");
    }

    /// The keys the README's configuration table and `config/codexd.toml` name
    /// are exactly the keys in [`KEYS`].
    #[test]
    fn the_readme_table_and_the_example_file_list_exactly_the_known_keys() {
        let known: std::collections::BTreeSet<String> = KEYS.iter().map(|k| k.file.to_string()).collect();

        let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
        let section = readme.split("\n## Configuration\n").nth(1).unwrap().split("\n## ").next().unwrap();
        let mut in_readme = std::collections::BTreeSet::new();
        for row in section.lines().filter(|l| l.starts_with("| `")) {
            let cell = row.split('|').nth(1).unwrap().trim();
            let name = match cell.strip_prefix("`[models] ") {
                Some(rest) if rest.starts_with('"') => continue, // the free-form exact entries
                Some(rest) => format!("models.{}", rest.trim_end_matches('`')),
                None => cell.trim_matches('`').to_string(),
            };
            in_readme.insert(name);
        }
        assert_eq!(in_readme, known, "README.md configuration table");

        let example = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config/codexd.toml")).unwrap();
        let mut in_example = std::collections::BTreeSet::new();
        let mut table = String::new();
        for line in example.lines() {
            let line = line.trim_start_matches("# ").trim();
            if line.starts_with('[') && line.ends_with(']') {
                table = format!("{}.", line.trim_matches(['[', ']']));
            } else if let Some((name, _)) = line.split_once(" = ") {
                if !name.starts_with('"') && name.chars().all(|c| c.is_ascii_lowercase() || c == '_') {
                    in_example.insert(format!("{table}{name}"));
                }
            }
        }
        assert_eq!(in_example, known, "config/codexd.toml");
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
            assert!(err.contains(&f.path().display().to_string()), "{contents:?}: {err}");
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
        let values: Vec<(&'static str, &'static str)> = env_overrides()
            .map(|var| {
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
