//! The IAM policy a Lambda authorizer returns, evaluated the way API Gateway does against the
//! `$connect` request's `methodArn`: a matching `Deny` wins, else a matching `Allow` lets the
//! connection through, else it is refused (an implicit deny).
//!
//! A statement matches when its `Action` (or `NotAction`) and its `Resource` (or `NotResource`)
//! match `execute-api:Invoke` and the ARN, each a string or a list, with `*` (any run of
//! characters) and `?` (any one character) wildcards; actions compare case-insensitively, as
//! IAM's do. `Condition` is not evaluated locally: such a statement is taken the strict way
//! (a `Deny` applies, an `Allow` does not), and the decision says so.

use serde_json::Value;

/// The action a WebSocket connection needs.
pub(crate) const INVOKE: &str = "execute-api:Invoke";

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Decision {
    Allow,
    /// No statement allows it (403).
    ImplicitDeny,
    /// A `Deny` statement matches (403).
    ExplicitDeny,
}

/// The policy document is not one API Gateway can evaluate (500): says what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Malformed(pub(crate) String);

/// The decision, and a note when a statement's `Condition` was taken the strict way.
pub(crate) fn evaluate(
    document: &Value,
    action: &str,
    resource: &str,
) -> Result<(Decision, Option<String>), Malformed> {
    let Some(document) = document.as_object() else {
        return Err(Malformed("policyDocument is not an object".into()));
    };
    let statements: Vec<&Value> = match document.get("Statement") {
        Some(Value::Array(list)) => list.iter().collect(),
        Some(one @ Value::Object(_)) => vec![one],
        _ => {
            return Err(Malformed(
                "policyDocument.Statement must be a statement or a list of them".into(),
            ));
        }
    };
    let mut allowed = false;
    let mut note = None;
    for (i, statement) in statements.into_iter().enumerate() {
        let Some(statement) = statement.as_object() else {
            return Err(Malformed(format!("Statement[{i}] is not an object")));
        };
        let deny = match statement.get("Effect").and_then(Value::as_str) {
            Some("Allow") => false,
            Some("Deny") => true,
            other => {
                return Err(Malformed(format!(
                    "Statement[{i}].Effect must be \"Allow\" or \"Deny\", found {}",
                    other.map_or("nothing".to_owned(), |o| format!("{o:?}"))
                )));
            }
        };
        let action_matches = applies(statement, i, "Action", "NotAction", |p| {
            wildcard_match(&p.to_ascii_lowercase(), &action.to_ascii_lowercase())
        })?;
        let resource_matches = applies(statement, i, "Resource", "NotResource", |p| {
            wildcard_match(p, resource)
        })?;
        let conditional = statement.contains_key("Condition");
        if conditional {
            note = Some(format!(
                "Statement[{i}] has a Condition, which the local gateway does not evaluate: {}",
                if deny {
                    "its Deny is applied"
                } else {
                    "its Allow is ignored"
                }
            ));
        }
        if action_matches && resource_matches {
            if deny {
                return Ok((Decision::ExplicitDeny, note));
            }
            allowed |= !conditional;
        }
    }
    let decision = if allowed {
        Decision::Allow
    } else {
        Decision::ImplicitDeny
    };
    Ok((decision, note))
}

/// Whether `key` (or, inverted, `not_key`) of a statement matches.
fn applies(
    statement: &serde_json::Map<String, Value>,
    index: usize,
    key: &str,
    not_key: &str,
    matches: impl Fn(&str) -> bool,
) -> Result<bool, Malformed> {
    let (patterns, inverted) = match (statement.get(key), statement.get(not_key)) {
        (Some(p), None) => (p, false),
        (None, Some(p)) => (p, true),
        _ => {
            return Err(Malformed(format!(
                "Statement[{index}] needs exactly one of {key} and {not_key}"
            )));
        }
    };
    let patterns: Vec<&str> = match patterns {
        Value::String(one) => vec![one.as_str()],
        Value::Array(list) => list
            .iter()
            .map(Value::as_str)
            .collect::<Option<_>>()
            .ok_or_else(|| {
                Malformed(format!(
                    "Statement[{index}].{key} must be a string or a list of strings"
                ))
            })?,
        _ => {
            return Err(Malformed(format!(
                "Statement[{index}].{key} must be a string or a list of strings"
            )));
        }
    };
    Ok(patterns.into_iter().any(matches) != inverted)
}

/// IAM's wildcards: `*` matches any run of characters (none included), `?` any one.
pub(crate) fn wildcard_match(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    // Greedy with backtracking to the last `*`: linear in practice, no recursion.
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((star_p, star_t)) = star {
            pi = star_p + 1;
            ti = star_t + 1;
            star = Some((star_p, star_t + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ARN: &str = "arn:aws:execute-api:us-east-1:000000000000:abc123/dev/$connect";

    fn decide(statements: Value) -> Decision {
        evaluate(
            &json!({"Version": "2012-10-17", "Statement": statements}),
            INVOKE,
            ARN,
        )
        .unwrap()
        .0
    }

    fn allow(resource: Value) -> Value {
        json!({"Effect": "Allow", "Action": INVOKE, "Resource": resource})
    }

    #[test]
    fn wildcards_match_like_iam() {
        assert!(wildcard_match("*", ""));
        assert!(wildcard_match("a*c", "abbbc"));
        assert!(wildcard_match("a*c", "ac"));
        assert!(!wildcard_match("a*c", "acb"));
        assert!(wildcard_match("a?c", "abc"));
        assert!(!wildcard_match("a?c", "ac"));
        assert!(wildcard_match("*/$connect", ARN));
        assert!(wildcard_match(
            "arn:aws:execute-api:*:*:abc123/*/$conne?t",
            ARN
        ));
        assert!(!wildcard_match("arn:aws:execute-api:*:*:other/*", ARN));
        assert!(wildcard_match("**a**", "xxaxx"));
        assert!(!wildcard_match("abc", "abcd"));
    }

    #[test]
    fn allow_needs_a_matching_action_and_resource() {
        assert_eq!(decide(json!([allow(json!(ARN))])), Decision::Allow);
        assert_eq!(decide(allow(json!(ARN))), Decision::Allow, "one statement");
        assert_eq!(
            decide(json!([allow(json!(["arn:aws:execute-api:*:*:x/*", ARN]))])),
            Decision::Allow,
            "a list of resources"
        );
        assert_eq!(
            decide(json!([allow(json!(
                "arn:aws:execute-api:*:*:abc123/prod/*"
            ))])),
            Decision::ImplicitDeny
        );
        assert_eq!(
            decide(json!([{"Effect": "Allow", "Action": ["execute-api:*"], "Resource": "*"}])),
            Decision::Allow
        );
        assert_eq!(
            decide(json!([{"Effect": "Allow", "Action": "EXECUTE-API:invoke", "Resource": "*"}])),
            Decision::Allow,
            "actions compare case-insensitively"
        );
        assert_eq!(
            decide(
                json!([{"Effect": "Allow", "Action": "execute-api:ManageConnections", "Resource": "*"}])
            ),
            Decision::ImplicitDeny
        );
        assert_eq!(
            decide(json!([{"Effect": "Allow", "Action": INVOKE, "NotResource": "*/prod/*"}])),
            Decision::Allow
        );
        assert_eq!(decide(json!([])), Decision::ImplicitDeny);
    }

    #[test]
    fn an_explicit_deny_wins() {
        let deny = json!({"Effect": "Deny", "Action": "*", "Resource": "*/$connect"});
        assert_eq!(
            decide(json!([allow(json!("*")), deny.clone()])),
            Decision::ExplicitDeny
        );
        assert_eq!(
            decide(json!([deny, allow(json!("*"))])),
            Decision::ExplicitDeny
        );
        let other = json!({"Effect": "Deny", "Action": "*", "Resource": "*/prod/*"});
        assert_eq!(decide(json!([allow(json!("*")), other])), Decision::Allow);
    }

    #[test]
    fn conditions_are_taken_strictly() {
        let conditional_allow = json!({"Effect": "Allow", "Action": INVOKE, "Resource": "*",
            "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}});
        let (decision, note) =
            evaluate(&json!({"Statement": [conditional_allow]}), INVOKE, ARN).unwrap();
        assert_eq!(decision, Decision::ImplicitDeny);
        assert!(note.unwrap().contains("Condition"));
        let conditional_deny = json!({"Effect": "Deny", "Action": INVOKE, "Resource": "*",
            "Condition": {"Bool": {"aws:SecureTransport": "false"}}});
        assert_eq!(
            decide(json!([allow(json!("*")), conditional_deny])),
            Decision::ExplicitDeny
        );
    }

    #[test]
    fn malformed_policies_say_what_is_wrong() {
        let bad = |doc: Value| evaluate(&doc, INVOKE, ARN).unwrap_err().0;
        assert!(bad(json!("Allow")).contains("not an object"));
        assert!(bad(json!({"Version": "2012-10-17"})).contains("Statement"));
        assert!(
            bad(json!({"Statement": [{"Effect": "allow", "Action": "*", "Resource": "*"}]}))
                .contains("Effect")
        );
        assert!(
            bad(json!({"Statement": [{"Effect": "Allow", "Resource": "*"}]})).contains("Action")
        );
        assert!(
            bad(json!({"Statement": [{"Effect": "Allow", "Action": "*", "Resource": 7}]}))
                .contains("Resource")
        );
        assert!(bad(json!({"Statement": ["Allow"]})).contains("Statement[0]"));
    }
}
