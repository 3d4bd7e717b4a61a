//! Typed intrinsic functions: string expressions, typed references and attributes.
//!
//! `Expr` is opaque: the only way to get a `Ref` or `Fn::GetAtt` into a template is through a
//! `Handle` the stack returned when the resource was added, so references are typed
//! (`Ref<Role>` is not a `Ref<Function>`) and `GetAtt` only compiles for attributes the
//! resource type has (`HasAtt<A>`).

use std::fmt;
use std::marker::PhantomData;

use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};

/// A string-valued CloudFormation expression: a literal, `Ref`, `Fn::GetAtt`, `Fn::Sub` or
/// `Fn::Join`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expr(Inner);

#[derive(Debug, Clone, PartialEq, Eq)]
enum Inner {
    Literal(String),
    Ref(String),
    GetAtt(String, &'static str),
    Sub(String),
    Join(String, Vec<Expr>),
}

impl Expr {
    pub fn literal(text: impl Into<String>) -> Expr {
        Expr(Inner::Literal(text.into()))
    }

    /// `Fn::Join` with a separator.
    pub fn join(separator: impl Into<String>, parts: impl IntoIterator<Item = Expr>) -> Expr {
        Expr(Inner::Join(separator.into(), parts.into_iter().collect()))
    }
}

impl From<&str> for Expr {
    fn from(text: &str) -> Expr {
        Expr::literal(text)
    }
}

impl From<String> for Expr {
    fn from(text: String) -> Expr {
        Expr::literal(text)
    }
}

impl Serialize for Expr {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match &self.0 {
            Inner::Literal(text) => serializer.serialize_str(text),
            Inner::Ref(id) => single_key(serializer, "Ref", id),
            Inner::GetAtt(id, attribute) => {
                single_key(serializer, "Fn::GetAtt", &[id.as_str(), attribute])
            }
            Inner::Sub(template) => single_key(serializer, "Fn::Sub", template),
            Inner::Join(separator, parts) => {
                single_key(serializer, "Fn::Join", &JoinArgs(separator, parts))
            }
        }
    }
}

struct JoinArgs<'a>(&'a str, &'a [Expr]);

impl Serialize for JoinArgs<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(2))?;
        seq.serialize_element(self.0)?;
        seq.serialize_element(self.1)?;
        seq.end()
    }
}

fn single_key<S: Serializer, V: Serialize + ?Sized>(
    serializer: S,
    key: &str,
    value: &V,
) -> Result<S::Ok, S::Error> {
    let mut map = serializer.serialize_map(Some(1))?;
    map.serialize_entry(key, value)?;
    map.end()
}

/// CloudFormation's pseudo parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Pseudo {
    AccountId,
    Partition,
    Region,
    StackId,
    StackName,
    UrlSuffix,
}

impl Pseudo {
    pub fn name(self) -> &'static str {
        match self {
            Pseudo::AccountId => "AWS::AccountId",
            Pseudo::Partition => "AWS::Partition",
            Pseudo::Region => "AWS::Region",
            Pseudo::StackId => "AWS::StackId",
            Pseudo::StackName => "AWS::StackName",
            Pseudo::UrlSuffix => "AWS::URLSuffix",
        }
    }

    /// Every pseudo parameter name a template may reference.
    pub const ALL: [Pseudo; 6] = [
        Pseudo::AccountId,
        Pseudo::Partition,
        Pseudo::Region,
        Pseudo::StackId,
        Pseudo::StackName,
        Pseudo::UrlSuffix,
    ];
}

impl From<Pseudo> for Expr {
    fn from(pseudo: Pseudo) -> Expr {
        Expr(Inner::Ref(pseudo.name().to_owned()))
    }
}

/// A resource attribute usable with `Fn::GetAtt`.
pub trait Attribute {
    const NAME: &'static str;
}

/// Implemented by a resource type for each attribute it has: `GetAtt` needs it to compile.
pub trait HasAtt<A: Attribute> {}

/// Attribute markers.
pub mod attr {
    macro_rules! attributes {
        ($($(#[$doc:meta])* $name:ident),* $(,)?) => {$(
            $(#[$doc])*
            #[derive(Debug, Clone, Copy, PartialEq, Eq)]
            pub struct $name;
            impl super::Attribute for $name {
                const NAME: &'static str = stringify!($name);
            }
        )*};
    }

    attributes!(
        /// The resource's ARN.
        Arn,
        /// An API's default endpoint (`wss://…`); avoided in outputs (moto lacks it).
        ApiEndpoint,
        /// An API's id.
        ApiId,
        /// An authorizer's id.
        AuthorizerId,
        /// A role's stable id.
        RoleId,
        /// A bucket's domain name.
        DomainName,
        /// A bucket's regional domain name.
        RegionalDomainName,
    );
}

/// The way to reference a resource added to a stack: its logical ID, typed by what it is.
pub struct Handle<R> {
    logical_id: String,
    kind: PhantomData<fn() -> R>,
}

impl<R> Handle<R> {
    pub(crate) fn new(logical_id: String) -> Handle<R> {
        Handle {
            logical_id,
            kind: PhantomData,
        }
    }

    pub fn logical_id(&self) -> &str {
        &self.logical_id
    }

    /// `{"Ref": logical id}`.
    pub fn reference(&self) -> Ref<R> {
        Ref {
            logical_id: self.logical_id.clone(),
            kind: PhantomData,
        }
    }

    /// `{"Fn::GetAtt": [logical id, attribute]}`; compiles only for attributes `R` has.
    pub fn get_att<A: Attribute>(&self, _attribute: A) -> GetAtt<R, A>
    where
        R: HasAtt<A>,
    {
        GetAtt {
            logical_id: self.logical_id.clone(),
            kind: PhantomData,
        }
    }
}

impl<R> Clone for Handle<R> {
    fn clone(&self) -> Self {
        Handle::new(self.logical_id.clone())
    }
}

impl<R> fmt::Debug for Handle<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Handle({})", self.logical_id)
    }
}

/// `{"Ref": …}` to a resource (or parameter) of type `R`.
pub struct Ref<R> {
    logical_id: String,
    kind: PhantomData<fn() -> R>,
}

impl<R> Ref<R> {
    pub fn logical_id(&self) -> &str {
        &self.logical_id
    }
}

impl<R> Clone for Ref<R> {
    fn clone(&self) -> Self {
        Ref {
            logical_id: self.logical_id.clone(),
            kind: PhantomData,
        }
    }
}

impl<R> fmt::Debug for Ref<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Ref({})", self.logical_id)
    }
}

impl<R> PartialEq for Ref<R> {
    fn eq(&self, other: &Self) -> bool {
        self.logical_id == other.logical_id
    }
}

impl<R> Serialize for Ref<R> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        single_key(serializer, "Ref", &self.logical_id)
    }
}

impl<R> From<Ref<R>> for Expr {
    fn from(reference: Ref<R>) -> Expr {
        Expr(Inner::Ref(reference.logical_id))
    }
}

/// `{"Fn::GetAtt": …}` of attribute `A` on a resource of type `R`.
pub struct GetAtt<R, A> {
    logical_id: String,
    kind: PhantomData<fn() -> (R, A)>,
}

impl<R, A> Clone for GetAtt<R, A> {
    fn clone(&self) -> Self {
        GetAtt {
            logical_id: self.logical_id.clone(),
            kind: PhantomData,
        }
    }
}

impl<R, A: Attribute> fmt::Debug for GetAtt<R, A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "GetAtt({}.{})", self.logical_id, A::NAME)
    }
}

impl<R, A> PartialEq for GetAtt<R, A> {
    fn eq(&self, other: &Self) -> bool {
        self.logical_id == other.logical_id
    }
}

impl<R, A: Attribute> Serialize for GetAtt<R, A> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        single_key(
            serializer,
            "Fn::GetAtt",
            &[self.logical_id.as_str(), A::NAME],
        )
    }
}

impl<R, A: Attribute> From<GetAtt<R, A>> for Expr {
    fn from(get_att: GetAtt<R, A>) -> Expr {
        Expr(Inner::GetAtt(get_att.logical_id, A::NAME))
    }
}

/// Builds an `Fn::Sub` from text and typed variables, so every `${…}` names something real.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sub {
    template: String,
}

/// A variable of an `Fn::Sub`: a pseudo parameter, a `Ref` or a `GetAtt`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubVar(String);

impl Sub {
    pub fn new() -> Sub {
        Sub::default()
    }

    /// Literal text; a `${` in it is escaped so CloudFormation keeps it verbatim.
    pub fn text(mut self, text: &str) -> Sub {
        self.template.push_str(&text.replace("${", "${!"));
        self
    }

    pub fn var(mut self, var: impl Into<SubVar>) -> Sub {
        self.template.push_str("${");
        self.template.push_str(&var.into().0);
        self.template.push('}');
        self
    }

    /// `arn:${AWS::Partition}:<service>:${AWS::Region}:${AWS::AccountId}:` — the usual prefix.
    pub fn arn_prefix(service: &str) -> Sub {
        Sub::new()
            .text("arn:")
            .var(Pseudo::Partition)
            .text(&format!(":{service}:"))
            .var(Pseudo::Region)
            .text(":")
            .var(Pseudo::AccountId)
            .text(":")
    }
}

impl From<Pseudo> for SubVar {
    fn from(pseudo: Pseudo) -> SubVar {
        SubVar(pseudo.name().to_owned())
    }
}

impl<R> From<Ref<R>> for SubVar {
    fn from(reference: Ref<R>) -> SubVar {
        SubVar(reference.logical_id)
    }
}

impl<R, A: Attribute> From<GetAtt<R, A>> for SubVar {
    fn from(get_att: GetAtt<R, A>) -> SubVar {
        SubVar(format!("{}.{}", get_att.logical_id, A::NAME))
    }
}

impl From<Sub> for Expr {
    fn from(sub: Sub) -> Expr {
        Expr(Inner::Sub(sub.template))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Thing;
    impl HasAtt<attr::Arn> for Thing {}

    #[test]
    fn expressions_serialize_as_cloudformation_intrinsics() {
        let thing: Handle<Thing> = Handle::new("MyThing".into());
        let json = |e: Expr| serde_json::to_string(&e).unwrap();
        assert_eq!(json("x".into()), r#""x""#);
        assert_eq!(json(thing.reference().into()), r#"{"Ref":"MyThing"}"#);
        assert_eq!(
            json(thing.get_att(attr::Arn).into()),
            r#"{"Fn::GetAtt":["MyThing","Arn"]}"#
        );
        assert_eq!(
            json(Pseudo::UrlSuffix.into()),
            r#"{"Ref":"AWS::URLSuffix"}"#
        );
        let sub = Sub::new()
            .text("a${b}:")
            .var(Pseudo::Region)
            .var(thing.get_att(attr::Arn));
        assert_eq!(
            json(sub.into()),
            r#"{"Fn::Sub":"a${!b}:${AWS::Region}${MyThing.Arn}"}"#
        );
        let join = Expr::join("", ["a".into(), thing.reference().into()]);
        assert_eq!(json(join), r#"{"Fn::Join":["",["a",{"Ref":"MyThing"}]]}"#);
    }
}
