//! Login, token store and refresh (being written on the `auth` branch).

pub mod commands;
