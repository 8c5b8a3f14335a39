//! SSE encoding of Anthropic streaming events (to be written).
