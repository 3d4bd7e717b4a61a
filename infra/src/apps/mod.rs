//! The apps wsecho ships, each one route table (see [`crate::app`]). Adding one: a module
//! here with its `APP`, an entry in [`ALL`], and its stage files in `infra/stages/<name>/`.

mod chat;
mod echo;
mod guarded;
mod signed;

use crate::app::App;

/// Every app.
pub const ALL: &[&App] = &[&echo::APP, &chat::APP, &guarded::APP, &signed::APP];

/// The app commands work on unless `--app` names another: the tutorial's.
pub const DEFAULT: &App = &echo::APP;

/// The app `--app` names.
pub fn find(name: &str) -> Result<&'static App, UnknownApp> {
    ALL.iter()
        .copied()
        .find(|app| app.name == name)
        .ok_or_else(|| UnknownApp {
            name: name.to_owned(),
            known: ALL
                .iter()
                .map(|app| app.name)
                .collect::<Vec<_>>()
                .join(", "),
        })
}

#[derive(Debug, thiserror::Error)]
#[error("there is no app `{name}`; the apps are: {known} (each is a module in infra/src/apps/)")]
pub struct UnknownApp {
    name: String,
    known: String,
}
