//! The Responses API request body (to be written).
