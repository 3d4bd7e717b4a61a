//! Construct paths: where a construct sits in its stack, and the logical ID that follows.

use std::fmt;

/// Where a construct sits: the stack's name, then construct ids, each scope the parent of the
/// next (`wsecho-dev/WsEcho/$connect/Route`). A construct takes a scope and an id, as in
/// AWS CDK, so two APIs in one stack each keep their routes under their own path.
///
/// The logical ID is the PascalCase of the ids after the stack's. A scope may be left out of
/// its children's logical IDs ([`ConstructPath::unnamed_scope`]): the path still shows it,
/// and errors name it, but the IDs stay short.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ConstructPath {
    segments: Vec<Segment>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Segment {
    id: String,
    in_logical_id: bool,
}

impl ConstructPath {
    /// A stack's root: the stack name, never part of logical IDs.
    pub(crate) fn root(stack_name: &str) -> ConstructPath {
        ConstructPath {
            segments: vec![Segment {
                id: stack_name.to_owned(),
                in_logical_id: false,
            }],
        }
    }

    /// The construct `id` in this scope.
    pub fn child(&self, id: &str) -> ConstructPath {
        self.push(id, true)
    }

    /// The scope `id` whose own id is left out of the logical IDs beneath it: the path says
    /// `Api/$connect/Route`, the logical ID is `ConnectRoute`.
    pub fn unnamed_scope(&self, id: &str) -> ConstructPath {
        self.push(id, false)
    }

    fn push(&self, id: &str, in_logical_id: bool) -> ConstructPath {
        let mut segments = self.segments.clone();
        segments.push(Segment {
            id: id.to_owned(),
            in_logical_id,
        });
        ConstructPath { segments }
    }

    /// The logical ID: the ids after the stack's (but unnamed scopes), in PascalCase,
    /// alphanumerics only (`$connect` → `Connect`, `ws-echo` → `WsEcho`).
    pub fn logical_id(&self) -> String {
        self.segments
            .iter()
            .filter(|s| s.in_logical_id)
            .map(|s| pascal_case(&s.id))
            .collect()
    }
}

impl fmt::Display for ConstructPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, segment) in self.segments.iter().enumerate() {
            if i > 0 {
                f.write_str("/")?;
            }
            f.write_str(&segment.id)?;
        }
        Ok(())
    }
}

/// `ws-echo` → `WsEcho`, `$connect` → `Connect`, `wsEcho` → `WsEcho`.
pub fn pascal_case(name: &str) -> String {
    name.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|word| !word.is_empty())
        .map(|word| {
            let mut chars = word.chars();
            let first = chars.next().map(|c| c.to_ascii_uppercase());
            first.into_iter().chain(chars).collect::<String>()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logical_ids_are_pascal_case_of_the_path_after_the_stack() {
        let path = ConstructPath::root("wsecho-dev")
            .child("$connect")
            .child("Route");
        assert_eq!(path.logical_id(), "ConnectRoute");
        assert_eq!(path.to_string(), "wsecho-dev/$connect/Route");
        assert_eq!(pascal_case("ws-echo"), "WsEcho");
        assert_eq!(pascal_case("wsEcho"), "WsEcho");
    }

    #[test]
    fn an_unnamed_scope_shows_in_the_path_but_not_in_logical_ids() {
        let root = ConstructPath::root("s");
        let api = root.child("Chat");
        let routes = root.unnamed_scope("Chat");
        assert_eq!(api.child("Api").logical_id(), "ChatApi");
        let route = routes.child("$connect").child("Route");
        assert_eq!(route.logical_id(), "ConnectRoute");
        assert_eq!(route.to_string(), "s/Chat/$connect/Route");
        assert_eq!(
            api.child("$connect").to_string(),
            routes.child("$connect").to_string()
        );
    }
}
