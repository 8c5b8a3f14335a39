//! The upstream client (to be written).
