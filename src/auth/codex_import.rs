//! `codexd login --from-codex [PATH]`: a one-shot import of the Codex CLI's
//! login (`$CODEX_HOME/auth.json`, else `~/.codex/auth.json`) into codexd's
//! own store.
//!
//! The Codex CLI's file is only ever read. After the import codexd refreshes
//! its own copy; both programs then hold the same refresh token, and since
//! each refresh rotates it, whichever refreshes second is logged out. The
//! command says so.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::login::LoginError;
use super::tokens::{IssuedTokens, StoredTokens};

/// The Codex CLI's `auth.json` (codex.md §5). Unknown fields are ignored.
#[derive(Deserialize)]
struct CodexAuthFile {
    #[serde(rename = "OPENAI_API_KEY", default)]
    api_key: Option<String>,
    #[serde(default)]
    tokens: Option<CodexTokens>,
    #[serde(default)]
    last_refresh: Option<DateTime<Utc>>,
}

#[derive(Deserialize)]
struct CodexTokens {
    #[serde(default)]
    id_token: Option<String>,
    access_token: String,
    refresh_token: String,
    #[serde(default)]
    account_id: Option<String>,
}

/// Where the Codex CLI keeps its login.
pub fn default_path() -> PathBuf {
    let codex_home = std::env::var_os("CODEX_HOME").filter(|v| !v.is_empty()).map(PathBuf::from).unwrap_or_else(|| {
        directories::BaseDirs::new().map(|d| d.home_dir().join(".codex")).unwrap_or_else(|| PathBuf::from(".codex"))
    });
    codex_home.join("auth.json")
}

/// Read the Codex CLI's login from `path` as a codexd login record.
pub fn read(path: &Path) -> Result<StoredTokens, LoginError> {
    let fail = |reason: String| LoginError::Import { path: path.to_path_buf(), reason };
    let bytes = std::fs::read(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => {
            fail("there is no such file; sign in with `codex login` first, or simply run `codexd login`".into())
        }
        _ => fail(e.to_string()),
    })?;
    // Name the problem without quoting the file, which holds secrets.
    let file: CodexAuthFile = serde_json::from_slice(&bytes).map_err(|e| {
        fail(format!("it is not a Codex CLI auth.json ({:?} error at line {})", e.classify(), e.line()))
    })?;
    let Some(tokens) = file.tokens else {
        return Err(fail(match file.api_key {
            Some(_) => {
                "it holds an API key, not a ChatGPT login; codexd needs a ChatGPT sign-in: run `codexd login`".into()
            }
            None => "it holds no ChatGPT tokens; run `codexd login`".into(),
        }));
    };
    let now = Utc::now();
    let issued = IssuedTokens {
        access_token: tokens.access_token,
        refresh_token: Some(tokens.refresh_token),
        id_token: tokens.id_token.filter(|t| !t.is_empty()),
        expires_in: None,
        account_id: tokens.account_id.filter(|a| !a.is_empty()),
    };
    let mut stored = StoredTokens::from_login(issued, now).map_err(|e| fail(e.to_string()))?;
    stored.last_refresh = file.last_refresh.or(Some(now));
    Ok(stored)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(content: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("auth.json");
        std::fs::write(&path, content).unwrap();
        (dir, path)
    }

    #[test]
    fn imports_tokens_and_keeps_the_codex_account_id() {
        let (_dir, path) = write(
            r#"{"OPENAI_API_KEY":null,"tokens":{"id_token":"x.e30.y","access_token":"a","refresh_token":"r","account_id":"acc-1"},
                "last_refresh":"2026-11-20T10:00:00Z","auth_mode":"chatgpt"}"#,
        );
        let t = read(&path).unwrap();
        assert_eq!((t.access_token.as_str(), t.refresh_token.as_str()), ("a", "r"));
        assert_eq!(t.account_id.as_deref(), Some("acc-1"));
        assert_eq!(t.last_refresh, Some("2026-11-20T10:00:00Z".parse().unwrap()));
    }

    #[test]
    fn refuses_files_that_hold_no_chatgpt_login() {
        let table = [
            (r#"{"OPENAI_API_KEY":"sk-secret"}"#, "API key"),
            (r#"{"OPENAI_API_KEY":null,"tokens":null}"#, "no ChatGPT tokens"),
            (r#"{"tokens":{"access_token":"secret-a"}}"#, "not a Codex CLI auth.json"),
            ("{", "not a Codex CLI auth.json"),
        ];
        for (content, expected) in table {
            let (_dir, path) = write(content);
            let msg = read(&path).unwrap_err().to_string();
            assert!(msg.contains(expected), "{content}: {msg}");
            assert!(!msg.contains("secret"), "{msg}");
        }
        let msg = read(Path::new("/nonexistent/auth.json")).unwrap_err().to_string();
        assert!(msg.contains("no such file") && msg.contains("codexd login"), "{msg}");
    }
}
