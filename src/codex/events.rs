//! Codex streaming events (to be written).
