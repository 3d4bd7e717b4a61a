//! Route selection: API Gateway's `RouteSelectionExpression` evaluated on a message body.
//!
//! Supported forms: `$request.body.a.b` and templates such as
//! `${request.body.a}/${request.body.b}` (literal text between placeholders).

use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Selection {
    Path(Vec<String>),
    Template(Vec<Part>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Part {
    Literal(String),
    Path(Vec<String>),
}

impl Selection {
    pub(crate) fn parse(expression: &str) -> Result<Selection, String> {
        if let Some(rest) = expression.strip_prefix('$')
            && !rest.starts_with('{')
        {
            return Ok(Selection::Path(body_path(rest, expression)?));
        }
        let mut parts = Vec::new();
        let mut rest = expression;
        while let Some(start) = rest.find("${") {
            if start > 0 {
                parts.push(Part::Literal(rest[..start].to_owned()));
            }
            let after = &rest[start + 2..];
            let end = after
                .find('}')
                .ok_or_else(|| format!("`{expression}` has an unclosed `${{`"))?;
            parts.push(Part::Path(body_path(&after[..end], expression)?));
            rest = &after[end + 1..];
        }
        if !rest.is_empty() {
            parts.push(Part::Literal(rest.to_owned()));
        }
        if !parts.iter().any(|p| matches!(p, Part::Path(_))) {
            return Err(format!(
                "`{expression}` selects nothing; use `$request.body.<key>` or `${{request.body.<key>}}`"
            ));
        }
        Ok(Selection::Template(parts))
    }

    /// The route key a text message selects, or `None` when it selects nothing (not JSON, a
    /// missing key, a value that is not a string): the caller then uses `$default`.
    pub(crate) fn route_key(&self, body: &str) -> Option<String> {
        let json: Value = serde_json::from_str(body).ok()?;
        match self {
            Selection::Path(path) => lookup(&json, path).map(str::to_owned),
            Selection::Template(parts) => {
                let mut key = String::new();
                for part in parts {
                    match part {
                        Part::Literal(text) => key.push_str(text),
                        Part::Path(path) => key.push_str(lookup(&json, path)?),
                    }
                }
                Some(key)
            }
        }
    }
}

fn body_path(text: &str, expression: &str) -> Result<Vec<String>, String> {
    let path = text.strip_prefix("request.body.").ok_or_else(|| {
        format!("`{expression}`: only `request.body.<key>` paths are supported locally")
    })?;
    let segments: Vec<String> = path.split('.').map(str::to_owned).collect();
    if segments.iter().any(String::is_empty) {
        return Err(format!("`{expression}` has an empty key"));
    }
    Ok(segments)
}

fn lookup<'a>(json: &'a Value, path: &[String]) -> Option<&'a str> {
    path.iter()
        .try_fold(json, |value, key| value.get(key.as_str()))?
        .as_str()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_templates_select_string_values_only() {
        let simple = Selection::parse("$request.body.action").unwrap();
        assert_eq!(
            simple.route_key(r#"{"action":"echo"}"#).as_deref(),
            Some("echo")
        );
        assert_eq!(simple.route_key(r#"{"action":3}"#), None);
        assert_eq!(simple.route_key("not json"), None);
        assert_eq!(simple.route_key(r#"{"other":"x"}"#), None);

        let nested = Selection::parse("$request.body.a.b").unwrap();
        assert_eq!(nested.route_key(r#"{"a":{"b":"x"}}"#).as_deref(), Some("x"));

        let template = Selection::parse("${request.body.a}/${request.body.b}").unwrap();
        assert_eq!(
            template.route_key(r#"{"a":"x","b":"y"}"#).as_deref(),
            Some("x/y")
        );
        assert_eq!(template.route_key(r#"{"a":"x"}"#), None);
    }

    #[test]
    fn unsupported_expressions_are_refused() {
        assert!(Selection::parse("$request.header.x").is_err());
        assert!(Selection::parse("constant").is_err());
        assert!(Selection::parse("${request.body.a").is_err());
    }
}
