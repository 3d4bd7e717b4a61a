//! The actions clients may send. The app's route table decides them; the template hands them
//! to the functions that reply, in [`ACTIONS_VARIABLE`], so the `$default` reply always lists
//! the routes the API really has.

/// A JSON array of route keys, `["echo"]`; set by the template (infra's `app.rs` writes it).
pub const ACTIONS_VARIABLE: &str = "WSECHO_ACTIONS";

/// The actions a message's `action` may name, in the route table's order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Actions(Vec<String>);

/// [`ACTIONS_VARIABLE`] is missing or not a JSON array of strings.
#[derive(thiserror::Error)]
pub enum ActionsError {
    #[error(
        "environment variable {ACTIONS_VARIABLE} is not set: the template sets it from the app's \
         route table (run `cargo xtask synth`); for a run by hand set it, e.g. {ACTIONS_VARIABLE}='[\"echo\"]'"
    )]
    Missing,
    #[error(
        "environment variable {ACTIONS_VARIABLE} must be a JSON array of route keys, e.g. [\"echo\"]; it is {value:?}: {error}"
    )]
    Invalid { value: String, error: String },
}

// `main` returns this error at startup and Rust prints it with `Debug`: make that the message.
impl std::fmt::Debug for ActionsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

impl Actions {
    pub fn new<S: Into<String>>(actions: impl IntoIterator<Item = S>) -> Actions {
        Actions(actions.into_iter().map(Into::into).collect())
    }

    /// Reads [`ACTIONS_VARIABLE`].
    pub fn from_env() -> Result<Actions, ActionsError> {
        Actions::from_lookup(|name| std::env::var(name).ok())
    }

    /// Like [`Actions::from_env`], reading the variable through `lookup`.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Actions, ActionsError> {
        let value = lookup(ACTIONS_VARIABLE).ok_or(ActionsError::Missing)?;
        serde_json::from_str::<Vec<String>>(&value)
            .map(Actions)
            .map_err(|error| ActionsError::Invalid {
                value,
                error: error.to_string(),
            })
    }

    pub fn contains(&self, action: &str) -> bool {
        self.0.iter().any(|a| a == action)
    }

    pub fn as_slice(&self) -> &[String] {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from(value: Option<&str>) -> Result<Actions, ActionsError> {
        Actions::from_lookup(|name| {
            assert_eq!(name, ACTIONS_VARIABLE);
            value.map(str::to_owned)
        })
    }

    #[test]
    fn the_template_value_parses_in_order() {
        let actions = from(Some(r#"["sendmessage","join"]"#)).unwrap();
        assert_eq!(actions, Actions::new(["sendmessage", "join"]));
        assert!(actions.contains("join") && !actions.contains("echo"));
        assert_eq!(from(Some("[]")).unwrap(), Actions::default());
    }

    #[test]
    fn a_missing_or_malformed_value_says_what_to_do() {
        let missing = format!("{:?}", from(None).unwrap_err());
        assert!(
            missing.contains("WSECHO_ACTIONS is not set") && missing.contains("cargo xtask synth"),
            "{missing}"
        );
        let invalid = from(Some("echo")).unwrap_err().to_string();
        assert!(
            invalid.contains("must be a JSON array") && invalid.contains("\"echo\""),
            "{invalid}"
        );
    }
}
