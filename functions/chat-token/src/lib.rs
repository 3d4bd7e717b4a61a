//! The chat app's tokens: JSON Web Tokens (RFC 7519) in the compact JWS form (RFC 7515),
//! signed with HMAC-SHA-256 (`HS256`) under the key the stack's secret holds.
//!
//! `cargo xtask token` signs ([`sign`]); the chat's `$connect` authorizer verifies
//! ([`verify`]). Verification accepts exactly what [`sign`] writes: the algorithm `HS256`
//! and nothing else (`none` above all: a client choosing the algorithm is the classic JWT
//! forgery), a signature compared in constant time, canonical unpadded base64url, the claims
//! `sub` (the user name), `iat` and `exp` in epoch seconds, and an `exp` still in the future.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// The one algorithm signed and accepted.
pub const ALGORITHM: &str = "HS256";

/// The header of every token [`sign`] writes.
const HEADER: &str = r#"{"alg":"HS256","typ":"JWT"}"#;

/// The longest token [`verify`] looks at. A token names a user of at most 64 characters, so
/// real ones are under 300 characters; the bound caps the work spent on what anyone can send
/// (and API Gateway's URLs are at most 4,096 characters anyway).
pub const MAX_TOKEN_LEN: usize = 4096;

/// The longest user name, in characters (all ASCII, so bytes too).
pub const MAX_USER_LEN: usize = 64;

/// What a token says: who it is for and when it is valid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The user name: 1 to [`MAX_USER_LEN`] letters, digits, `_`, `-` or `.` (see
    /// [`is_valid_user`]), so it can go in logs, replies and a DynamoDB item as it is.
    pub sub: String,
    /// When the token was issued, in seconds since the Unix epoch.
    pub iat: u64,
    /// When the token expires, in seconds since the Unix epoch: it is refused from that
    /// second on.
    pub exp: u64,
}

impl Claims {
    /// The claims of a token for `user` issued at `now` and valid for `lifetime` seconds;
    /// [`TokenError::User`] if `user` is not a valid user name.
    pub fn new(user: &str, now: u64, lifetime: u64) -> Result<Claims, TokenError> {
        if !is_valid_user(user) {
            return Err(TokenError::User);
        }
        Ok(Claims {
            sub: user.to_owned(),
            iat: now,
            exp: now.saturating_add(lifetime),
        })
    }
}

/// Why a token was refused. The messages are for logs: they never quote the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not a compact JWS with a JSON header and the claims above, or not in canonical
    /// base64url: what the part was is said, never its content.
    #[error("the token is malformed: {0}")]
    Malformed(&'static str),
    /// The header names another algorithm (`none`, `HS512`, `RS256`...), shown cut to 16
    /// characters.
    #[error("the token's algorithm {0:?} is not HS256")]
    Algorithm(String),
    /// The signature is not the key's HMAC of the header and claims.
    #[error("the token's signature does not match")]
    Signature,
    /// `exp` is now or past.
    #[error("the token expired at {exp} (now {now})")]
    Expired { exp: u64, now: u64 },
    /// `sub` is not a valid user name.
    #[error(
        "the user name must be 1 to {MAX_USER_LEN} letters, digits, `_`, `-` or `.` characters"
    )]
    User,
}

/// Whether `name` can be a user: 1 to [`MAX_USER_LEN`] ASCII letters, digits, `_`, `-`, `.`.
pub fn is_valid_user(name: &str) -> bool {
    (1..=MAX_USER_LEN).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

/// The token for `claims`, signed with `key`: `base64url(header).base64url(claims).signature`.
pub fn sign(key: &[u8], claims: &Claims) -> String {
    // A struct of strings and integers always serializes.
    let payload = serde_json::to_vec(claims).expect("the claims serialize to JSON");
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(HEADER),
        URL_SAFE_NO_PAD.encode(payload)
    );
    let signature = mac(key, &signing_input).finalize().into_bytes();
    format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature))
}

/// The claims of `token` if `key` signed it with HS256, it is well formed and it has not
/// expired at `now` (seconds since the Unix epoch).
///
/// The order matters: the algorithm is checked before anything is computed, the signature
/// before the claims are read, so nothing an unauthenticated sender writes in the claims is
/// parsed.
pub fn verify(key: &[u8], token: &str, now: u64) -> Result<Claims, TokenError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(TokenError::Malformed("longer than 4096 characters"));
    }
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenError::Malformed("not three dot-separated parts"));
    };
    check_header(&decode(header, "the header is not base64url")?)?;
    let signature = decode(signature, "the signature is not base64url")?;
    let signing_input = &token[..header.len() + 1 + payload.len()];
    // `verify_slice` compares in constant time (and refuses another length).
    mac(key, signing_input)
        .verify_slice(&signature)
        .map_err(|_| TokenError::Signature)?;
    let claims: Claims = json_object(&decode(payload, "the claims are not base64url")?).ok_or(
        TokenError::Malformed("the claims are not a JSON object with sub, iat and exp"),
    )?;
    if !is_valid_user(&claims.sub) {
        return Err(TokenError::User);
    }
    if claims.exp <= now {
        return Err(TokenError::Expired {
            exp: claims.exp,
            now,
        });
    }
    Ok(claims)
}

/// What a header may say. Derived deserialization refuses a repeated field, so a header with
/// two `alg`s cannot mean one thing here and another elsewhere.
#[derive(Deserialize)]
struct Header {
    alg: String,
    #[serde(default)]
    typ: Option<String>,
    #[serde(default)]
    crit: Option<serde_json::Value>,
}

fn check_header(bytes: &[u8]) -> Result<(), TokenError> {
    let header: Header = json_object(bytes).ok_or(TokenError::Malformed(
        "the header is not a JSON object with a string alg",
    ))?;
    if header.alg != ALGORITHM {
        return Err(TokenError::Algorithm(header.alg.chars().take(16).collect()));
    }
    // `typ` is optional and case-insensitive (RFC 7519 5.1); anything but JWT is another
    // kind of object signed with the same key.
    if header
        .typ
        .is_some_and(|typ| !typ.eq_ignore_ascii_case("JWT"))
    {
        return Err(TokenError::Malformed("the header's typ is not JWT"));
    }
    // RFC 7515 4.1.11: a recipient that does not understand a critical extension must refuse.
    if header.crit.is_some() {
        return Err(TokenError::Malformed(
            "the header names critical extensions",
        ));
    }
    Ok(())
}

/// `bytes` as a `T` if they are a JSON object: derived deserialization would take an array
/// of the fields' values too, which no JWT is.
fn json_object<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Option<T> {
    if bytes.trim_ascii_start().first() != Some(&b'{') {
        return None;
    }
    serde_json::from_slice(bytes).ok()
}

/// Decodes canonical unpadded base64url: padding and stray trailing bits are refused, so each
/// token has exactly one spelling.
fn decode(part: &str, what: &'static str) -> Result<Vec<u8>, TokenError> {
    URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| TokenError::Malformed(what))
}

fn mac(key: &[u8], signing_input: &str) -> HmacSha256 {
    // HMAC takes a key of any length (a long one is hashed first): this never fails.
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC accepts keys of any length");
    mac.update(signing_input.as_bytes());
    mac
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ01";
    const NOW: u64 = 1_795_544_400;

    fn alice() -> Claims {
        Claims::new("alice", NOW, 3600).unwrap()
    }

    fn b64(bytes: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// A token with any header and claims, signed correctly with `KEY`.
    fn forge(header: &str, claims: &str) -> String {
        let input = format!("{}.{}", b64(header.as_bytes()), b64(claims.as_bytes()));
        let signature = mac(KEY, &input).finalize().into_bytes();
        format!("{input}.{}", b64(&signature))
    }

    #[test]
    fn a_signed_token_verifies_to_its_claims() {
        let token = sign(KEY, &alice());
        assert_eq!(verify(KEY, &token, NOW), Ok(alice()));
        assert_eq!(verify(KEY, &token, NOW + 3599), Ok(alice()));
        // The header is exactly the documented one.
        let header = token.split('.').next().unwrap();
        assert_eq!(URL_SAFE_NO_PAD.decode(header).unwrap(), HEADER.as_bytes());
    }

    /// Computed independently (Python's hmac and base64 modules) for these claims and `KEY`:
    /// the signature is the standard HS256 one, so other JWT libraries agree with this crate.
    #[test]
    fn the_signature_matches_an_independent_implementation() {
        let claims = Claims {
            sub: "alice".to_owned(),
            iat: NOW,
            exp: NOW + 3600,
        };
        assert_eq!(sign(KEY, &claims), INDEPENDENT_TOKEN);
    }

    const INDEPENDENT_TOKEN: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.\
        eyJzdWIiOiJhbGljZSIsImlhdCI6MTc5NTU0NDQwMCwiZXhwIjoxNzk1NTQ4MDAwfQ.\
        hWXb5hlNMc4jOVnWWBgJb0zcy_hu7ym5YFmLBZ9Y-NM";

    #[test]
    fn expiry_is_exclusive() {
        let token = sign(KEY, &alice());
        assert_eq!(
            verify(KEY, &token, NOW + 3600),
            Err(TokenError::Expired {
                exp: NOW + 3600,
                now: NOW + 3600
            })
        );
        assert!(matches!(
            verify(KEY, &token, u64::MAX),
            Err(TokenError::Expired { .. })
        ));
    }

    #[test]
    fn tampering_with_any_part_breaks_the_signature() {
        let token = sign(KEY, &alice());
        let parts: Vec<&str> = token.split('.').collect();
        // Claims of another user, keeping alice's signature.
        let mallory = b64(br#"{"sub":"mallory","iat":1795544400,"exp":1795548000}"#);
        let swapped = format!("{}.{mallory}.{}", parts[0], parts[2]);
        assert_eq!(verify(KEY, &swapped, NOW), Err(TokenError::Signature));
        // One bit of the signature flipped.
        let mut signature = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
        signature[31] ^= 1;
        let flipped = format!("{}.{}.{}", parts[0], parts[1], b64(&signature));
        assert_eq!(verify(KEY, &flipped, NOW), Err(TokenError::Signature));
        // A truncated signature, and none.
        let short = format!("{}.{}.{}", parts[0], parts[1], b64(&signature[..16]));
        assert_eq!(verify(KEY, &short, NOW), Err(TokenError::Signature));
        let unsigned = format!("{}.{}.", parts[0], parts[1]);
        assert_eq!(verify(KEY, &unsigned, NOW), Err(TokenError::Signature));
        // Another key.
        let other_key = b"another key of the same length, also 64 characters long.........";
        assert_eq!(verify(other_key, &token, NOW), Err(TokenError::Signature));
    }

    #[test]
    fn other_algorithms_are_refused_before_the_signature_is_looked_at() {
        let claims = r#"{"sub":"alice","iat":1795544400,"exp":1795548000}"#;
        // The `none` attack: an unsigned token that names no algorithm.
        let none = format!(
            "{}.{}.",
            b64(br#"{"alg":"none","typ":"JWT"}"#),
            b64(claims.as_bytes())
        );
        assert_eq!(
            verify(KEY, &none, NOW),
            Err(TokenError::Algorithm("none".to_owned()))
        );
        for alg in ["None", "NONE", "HS512", "hs256", "RS256", ""] {
            let token = forge(&format!(r#"{{"alg":"{alg}","typ":"JWT"}}"#), claims);
            assert_eq!(
                verify(KEY, &token, NOW),
                Err(TokenError::Algorithm(alg.to_owned())),
                "{alg}"
            );
        }
        let long = forge(&format!(r#"{{"alg":"{}"}}"#, "x".repeat(100)), claims);
        assert_eq!(
            verify(KEY, &long, NOW),
            Err(TokenError::Algorithm("x".repeat(16)))
        );
    }

    #[test]
    fn headers_other_than_a_plain_hs256_jwt_are_refused() {
        let claims = r#"{"sub":"alice","iat":1795544400,"exp":1795548000}"#;
        // Without `typ`, or in another case, it is still a JWT.
        for header in [r#"{"alg":"HS256"}"#, r#"{"typ":"jwt","alg":"HS256"}"#] {
            assert_eq!(verify(KEY, &forge(header, claims), NOW), Ok(alice()));
        }
        for header in [
            r#"{"alg":"HS256","typ":"JWE"}"#,
            r#"{"alg":"HS256","crit":["exp"]}"#,
            r#"{"alg":"none","alg":"HS256"}"#,
            r#"{"alg":256}"#,
            r#"{"typ":"JWT"}"#,
            r#"["HS256"]"#,
            "not json",
        ] {
            assert!(
                matches!(
                    verify(KEY, &forge(header, claims), NOW),
                    Err(TokenError::Malformed(_))
                ),
                "{header}"
            );
        }
    }

    #[test]
    fn malformed_tokens_are_refused_without_panicking() {
        let token = sign(KEY, &alice());
        let parts: Vec<&str> = token.split('.').collect();
        let padded = format!("{}=.{}.{}", parts[0], parts[1], parts[2]);
        let standard_alphabet = token.replace('-', "+").replace('_', "/");
        for bad in [
            "",
            ".",
            "..",
            "a.b",
            "a.b.c.d",
            &format!("{token}."),
            &format!("{token}.{}", parts[2]),
            &padded,
            "é.é.é",
            &"a".repeat(MAX_TOKEN_LEN + 1),
        ] {
            assert!(
                matches!(verify(KEY, bad, NOW), Err(TokenError::Malformed(_))),
                "{bad}"
            );
        }
        if standard_alphabet != token {
            assert!(verify(KEY, &standard_alphabet, NOW).is_err());
        }
    }

    #[test]
    fn the_claims_must_be_complete_and_name_a_valid_user() {
        let header = r#"{"alg":"HS256","typ":"JWT"}"#;
        for claims in [
            r#"{"sub":"alice","iat":1795544400}"#,
            r#"{"sub":"alice","exp":1795548000}"#,
            r#"{"iat":1795544400,"exp":1795548000}"#,
            r#"{"sub":"alice","iat":1795544400,"exp":"1795548000"}"#,
            r#"{"sub":"alice","iat":1795544400,"exp":-1}"#,
            r#"{"sub":"alice","iat":1795544400,"exp":1.5e9}"#,
            r#"{"sub":"alice","sub":"bob","iat":1795544400,"exp":1795548000}"#,
            r#"{"sub":7,"iat":1795544400,"exp":1795548000}"#,
            r#"["alice",1795544400,1795548000]"#,
            "[]",
        ] {
            assert!(
                matches!(
                    verify(KEY, &forge(header, claims), NOW),
                    Err(TokenError::Malformed(_))
                ),
                "{claims}"
            );
        }
        let long_name = "a".repeat(65);
        for sub in ["", "al ice", "alice\n", "ålice", "a/b", long_name.as_str()] {
            let claims = serde_json::json!({"sub": sub, "iat": NOW, "exp": NOW + 60});
            assert_eq!(
                verify(KEY, &forge(header, &claims.to_string()), NOW),
                Err(TokenError::User),
                "{sub:?}"
            );
        }
        // Other claims are allowed and ignored.
        let extra = r#"{"sub":"alice","iat":1795544400,"exp":1795548000,"aud":"chat"}"#;
        assert_eq!(verify(KEY, &forge(header, extra), NOW), Ok(alice()));
    }

    #[test]
    fn user_names_are_checked_when_claims_are_made() {
        assert!(is_valid_user("alice"));
        assert!(is_valid_user("A.b-c_9"));
        assert!(is_valid_user(&"z".repeat(64)));
        assert!(!is_valid_user(&"z".repeat(65)));
        assert_eq!(Claims::new("bad name", NOW, 60), Err(TokenError::User));
        let claims = Claims::new("bob", NOW, u64::MAX).unwrap();
        assert_eq!(claims.exp, u64::MAX);
        assert_eq!(claims.iat, NOW);
    }

    #[test]
    fn error_messages_never_quote_the_token() {
        let token = sign(KEY, &alice());
        let parts: Vec<&str> = token.split('.').collect();
        let bad = format!("{}.{}x.{}", parts[0], parts[1], parts[2]);
        let message = verify(KEY, &bad, NOW).unwrap_err().to_string();
        assert!(
            !message.contains(parts[1]) && !message.contains(parts[2]),
            "{message}"
        );
    }
}
