//! Requests clients send to `POST /v1/messages` (to be written).
