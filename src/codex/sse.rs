//! Codex SSE decoding (to be written).
