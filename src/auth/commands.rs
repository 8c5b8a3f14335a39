//! `codexd login`, `logout`, `status` (being written on the `auth` branch).

use std::process::ExitCode;

use crate::config::Settings;

#[derive(Debug, clap::Args)]
pub struct LoginArgs {}

#[derive(Debug, clap::Args)]
pub struct LogoutArgs {}

#[derive(Debug, clap::Args)]
pub struct StatusArgs {}

pub async fn login(_settings: &Settings, _args: LoginArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`codexd login` is not built yet")
}

pub async fn logout(_settings: &Settings, _args: LogoutArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`codexd logout` is not built yet")
}

pub async fn status(_settings: &Settings, _args: StatusArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`codexd status` is not built yet")
}
