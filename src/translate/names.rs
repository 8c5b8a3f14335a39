//! Tool names the Codex backend accepts, and the way back to the client's.
//!
//! The backend wants every function name to match `^[a-zA-Z0-9_-]{1,64}$`,
//! but Claude Code's MCP tools can be longer
//! (`mcp__server_name__a_very_long_tool_name…`) or carry other characters.
//! [`codex_tool_name`] maps any name to one the backend takes: a valid name
//! is kept as it is; any other becomes its sanitised first
//! [`PREFIX_LEN`] characters, an `_`, and the first [`HASH_LEN`] hex digits
//! of the SHA-256 of the whole original name. The result depends on the name
//! alone, so the same tool gets the same short name in its definition, in
//! every earlier call in the history, in `tool_choice`, and on every turn of
//! the conversation. [`tool_name_map`] gives the stream translator the way
//! back, so the client only ever sees its own names.

use std::borrow::Cow;
use std::collections::HashMap;

use sha2::{Digest, Sha256};

use crate::anthropic::request::{ContentBlock, MessageContent, MessagesRequest, Tool};

/// The longest tool name the backend accepts.
pub const MAX_TOOL_NAME_LEN: usize = 64;

/// Hex digits of the SHA-256 that end a shortened name.
pub const HASH_LEN: usize = 8;

/// Characters of the original name kept at the front of a shortened name:
/// what is left of [`MAX_TOOL_NAME_LEN`] after the `_` and the hash.
pub const PREFIX_LEN: usize = MAX_TOOL_NAME_LEN - 1 - HASH_LEN;

/// True when the backend accepts `name` as it is: 1 to 64 ASCII letters,
/// digits, `_` or `-`.
pub fn is_valid_tool_name(name: &str) -> bool {
    (1..=MAX_TOOL_NAME_LEN).contains(&name.len()) && name.bytes().all(is_name_byte)
}

/// The name to send upstream for the client's tool `name`: `name` itself
/// when it is valid (see [`is_valid_tool_name`]), else a shortened name
/// (see the module docs), e.g. `mcp__server__tool.with.dots` →
/// `mcp__server__tool_with_dots_1e11824e`.
pub fn codex_tool_name(name: &str) -> Cow<'_, str> {
    if is_valid_tool_name(name) {
        return Cow::Borrowed(name);
    }
    let prefix: String =
        name.chars().take(PREFIX_LEN).map(|c| if c.is_ascii() && is_name_byte(c as u8) { c } else { '_' }).collect();
    Cow::Owned(format!("{prefix}_{}", name_hash(name)))
}

/// Every renamed tool of `request`, as `upstream name → client name`: the
/// custom tools offered, the tools called in the history, and the tool
/// named by `tool_choice`. Names sent unchanged are not in the map.
pub fn tool_name_map(request: &MessagesRequest) -> HashMap<String, String> {
    client_tool_names(request)
        .filter_map(|name| match codex_tool_name(name) {
            Cow::Owned(short) => Some((short, name.to_owned())),
            Cow::Borrowed(_) => None,
        })
        .collect()
}

/// Every tool name the client used in `request`, in no particular order.
fn client_tool_names(request: &MessagesRequest) -> impl Iterator<Item = &str> {
    let offered = request.tools.iter().flatten().filter_map(|tool| match tool {
        Tool::Custom(tool) => Some(tool.name.as_str()),
        Tool::WebSearch(_) | Tool::Unknown { .. } => None,
    });
    let called = request.messages.iter().flat_map(|message| match &message.content {
        MessageContent::Blocks(blocks) => blocks.as_slice(),
        MessageContent::Text(_) => &[],
    });
    let called = called.filter_map(|block| match block {
        ContentBlock::ToolUse(call) => Some(call.name.as_str()),
        _ => None,
    });
    let chosen = request.tool_choice.iter().filter_map(|choice| choice.name.as_deref());
    offered.chain(called).chain(chosen)
}

fn is_name_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'-'
}

/// The first [`HASH_LEN`] lowercase hex digits of SHA-256(`name`).
fn name_hash(name: &str) -> String {
    let digest = Sha256::digest(name.as_bytes());
    let hex: String = digest.iter().map(|byte| format!("{byte:02x}")).collect();
    hex[..HASH_LEN].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::anthropic::request::parse_count_tokens_request;
    use serde_json::json;

    /// A name of exactly `len` characters, distinct per `seed`.
    fn long_name(seed: &str, len: usize) -> String {
        let mut name = format!("mcp__{seed}__");
        while name.len() < len {
            name.push_str("segment_");
        }
        name.truncate(len);
        name
    }

    #[test]
    fn valid_names_pass_unchanged() {
        let sixty_four = "a".repeat(64);
        for name in ["Bash", "mcp__github__create_issue", "a", "with-dash_and_9", sixty_four.as_str()] {
            assert!(is_valid_tool_name(name), "{name}");
            assert!(matches!(codex_tool_name(name), Cow::Borrowed(same) if same == name), "{name}");
        }
    }

    #[test]
    fn shortening_table() {
        // Expected hashes: `printf %s NAME | sha256sum | cut -c1-8`.
        let table = [
            ("", "_e3b0c442"),
            ("tool.with.dots", "tool_with_dots_01327530"),
            ("space name", "space_name_21f96169"),
            ("mcp__server__tool.with.dots", "mcp__server__tool_with_dots_1e11824e"),
            ("ünïcödé", "_n_c_d__b09ad3e2"),
            ("a".repeat(65).as_str(), &format!("{}_{}", "a".repeat(55), "635361c4")),
        ]
        .map(|(name, short)| (name.to_owned(), short.to_owned()));
        for (name, expected) in table {
            assert_eq!(codex_tool_name(&name), expected, "{name:?}");
        }
    }

    #[test]
    fn shortened_names_are_valid_stable_and_short() {
        let names = [
            long_name("server", 65),
            long_name("server", 90),
            long_name("server", 300),
            "mcp__srv__tool/with/slashes".to_owned(),
            "日本語のツール名".to_owned(),
            " ".to_owned(),
        ];
        for name in &names {
            let short = codex_tool_name(name);
            assert!(is_valid_tool_name(&short), "{name:?} → {short:?}");
            assert!(short.len() <= MAX_TOOL_NAME_LEN, "{short:?}");
            assert_eq!(codex_tool_name(name), short, "stable for {name:?}");
            assert_ne!(short, name.as_str());
        }
    }

    #[test]
    fn names_sharing_a_long_prefix_stay_distinct() {
        let common = long_name("shared", 56);
        let first = format!("{common}_create_pull_request_review_comment");
        let second = format!("{common}_create_pull_request_review_thread");
        let (a, b) = (codex_tool_name(&first), codex_tool_name(&second));
        assert_eq!(a[..PREFIX_LEN], b[..PREFIX_LEN], "same visible prefix");
        assert_ne!(a, b);
    }

    #[test]
    fn map_covers_tools_history_and_choice_only_when_renamed() {
        let offered = long_name("offered", 80);
        let called = "mcp__old.tool".to_owned();
        let chosen = long_name("chosen", 70);
        let request = parse_count_tokens_request(
            json!({
                "model": "m",
                "tools": [{"name": offered, "input_schema": {}}, {"name": "Bash", "input_schema": {}},
                          {"type": "web_search_20250305", "name": "web search!"}],
                "tool_choice": {"type": "tool", "name": chosen},
                "messages": [
                    {"role": "user", "content": "hi"},
                    {"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": called, "input": {}}]},
                    {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": "ok"}]}
                ]
            })
            .to_string()
            .as_bytes(),
        )
        .unwrap();
        let map = tool_name_map(&request);
        let expected: HashMap<String, String> = [&offered, &called, &chosen]
            .into_iter()
            .map(|name| (codex_tool_name(name).into_owned(), name.clone()))
            .collect();
        assert_eq!(map, expected);
    }
}
