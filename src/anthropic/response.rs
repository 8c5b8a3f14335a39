//! The message and streaming events we answer with (to be written).
