//! IAM authorization of `$connect` (`AuthorizationType: AWS_IAM`): the upgrade request must
//! carry a SigV4 signature for `execute-api` in the gateway's region, made with the run's
//! [`Credentials`], in its headers (`Authorization`, `X-Amz-Date`, `X-Amz-Security-Token`)
//! or in its query string (a presigned URL: `X-Amz-Algorithm`, `X-Amz-Credential`, ...).
//!
//! The signature is recomputed over what the client says it signed (its `SignedHeaders`, the
//! query string as sent) with aws-sigv4's signing key and HMAC, so any signer that follows
//! SigV4 (the AWS SDKs, aws-sigv4 itself, Amplify's `signUrl`) is accepted, and nothing else.
//! A caller's IAM policy is not evaluated locally: a valid signature with the run's
//! credentials is enough.

use std::fmt;
use std::time::{Duration, SystemTime};

use hyper::HeaderMap;
use serde_json::{Map, Value};

use crate::events::percent_decode;
use crate::ids;
use crate::template::{ACCOUNT, REGION};

const ALGORITHM: &str = "AWS4-HMAC-SHA256";
const SERVICE: &str = "execute-api";
/// How far a request's `X-Amz-Date` may be from the gateway's clock, as AWS allows.
const MAX_SKEW: Duration = Duration::from_secs(15 * 60);
/// The longest a presigned URL may be valid (`X-Amz-Expires`), as AWS allows.
const MAX_EXPIRES: u64 = 7 * 24 * 60 * 60;
/// The role and session the run's credentials belong to, as the events' identity names them.
const ROLE: &str = "wsecho-local-dev";
const SESSION: &str = "wsecho-local-dev";

/// The AWS credentials of one local run: the functions get them in their environment (as
/// Lambda gives a function its role's session credentials), and a client signs an
/// IAM-authorized `$connect` with them. New for every run of the gateway.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: String,
}

/// The secret stays out of logs and panics.
impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

impl Credentials {
    /// Fresh credentials shaped like a role session's (`ASIA…`, 40-character secret).
    pub(crate) fn generate() -> Credentials {
        const UPPER: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
        const SECRET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        Credentials {
            access_key_id: format!("ASIA{}", ids::secret(16, UPPER)),
            secret_access_key: ids::secret(40, SECRET),
            session_token: format!("wsecho-local-{}", ids::secret(48, SECRET)),
        }
    }

    /// The `requestContext.identity` fields API Gateway fills for a caller signed with these
    /// credentials (a role session).
    pub(crate) fn identity(&self) -> Map<String, Value> {
        let role_id = format!("AROA{}", &self.access_key_id[4..]);
        let caller = format!("{role_id}:{SESSION}");
        let mut identity = Map::new();
        identity.insert("accessKey".into(), self.access_key_id.clone().into());
        identity.insert("accountId".into(), ACCOUNT.into());
        identity.insert("caller".into(), caller.clone().into());
        identity.insert("user".into(), caller.into());
        identity.insert(
            "userArn".into(),
            format!("arn:aws:sts::{ACCOUNT}:assumed-role/{ROLE}/{SESSION}").into(),
        );
        for absent in [
            "cognitoIdentityPoolId",
            "cognitoIdentityId",
            "cognitoAuthenticationType",
            "cognitoAuthenticationProvider",
            "principalOrgId",
        ] {
            identity.insert(absent.into(), Value::Null);
        }
        identity
    }
}

/// Why a signed request is refused (403): what API Gateway tells the client, and what the log
/// line says.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Denied {
    pub(crate) message: &'static str,
    pub(crate) detail: String,
}

fn denied(message: &'static str, detail: impl Into<String>) -> Denied {
    Denied {
        message,
        detail: detail.into(),
    }
}

const MISSING: &str = "Missing Authentication Token";
const INVALID_TOKEN: &str = "The security token included in the request is invalid.";
const MISMATCH: &str = "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.";
const EXPIRED: &str = "Signature expired";
const MALFORMED: &str = "Authorization header or query string is not a valid SigV4 signature";

/// What the client says it signed.
struct Signed<'a> {
    access_key_id: &'a str,
    /// `YYYYMMDD/region/service/aws4_request`, as the client wrote it.
    scope: &'a str,
    amz_date: &'a str,
    signed_headers: &'a str,
    signature: &'a str,
    session_token: Option<String>,
    /// In the query string (a presigned URL), not the headers.
    presigned: bool,
    /// Presigned: `X-Amz-Expires`.
    expires: Option<u64>,
}

/// Checks the request's signature; `now` is the gateway's clock.
pub(crate) fn verify(
    method: &str,
    path: &str,
    query: Option<&str>,
    headers: &HeaderMap,
    credentials: &Credentials,
    now: SystemTime,
) -> Result<(), Denied> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let params: Vec<(String, String)> = query.map(query_pairs).unwrap_or_default();
    let param = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let authorization = header("authorization").filter(|a| a.starts_with("AWS4-"));
    let signed = if let Some(authorization) = authorization {
        let (algorithm, fields) = authorization.split_once(' ').unwrap_or((authorization, ""));
        if algorithm != ALGORITHM {
            return Err(denied(
                MALFORMED,
                format!("algorithm {algorithm} (only {ALGORITHM})"),
            ));
        }
        let field = |name: &str| {
            fields
                .split(',')
                .map(str::trim)
                .find_map(|f| f.strip_prefix(name).and_then(|rest| rest.strip_prefix('=')))
        };
        let (Some(credential), Some(signed_headers), Some(signature)) = (
            field("Credential"),
            field("SignedHeaders"),
            field("Signature"),
        ) else {
            return Err(denied(
                MALFORMED,
                "the Authorization header needs Credential, SignedHeaders and Signature",
            ));
        };
        let Some(amz_date) = header("x-amz-date") else {
            return Err(denied(MALFORMED, "no X-Amz-Date header"));
        };
        let (access_key_id, scope) = credential.split_once('/').unwrap_or((credential, ""));
        Signed {
            access_key_id,
            scope,
            amz_date,
            signed_headers,
            signature,
            session_token: header("x-amz-security-token").map(str::to_owned),
            presigned: false,
            expires: None,
        }
    } else if let Some(signature) = param("X-Amz-Signature") {
        if param("X-Amz-Algorithm") != Some(ALGORITHM) {
            return Err(denied(
                MALFORMED,
                format!("X-Amz-Algorithm must be {ALGORITHM}"),
            ));
        }
        let (Some(credential), Some(amz_date), Some(signed_headers)) = (
            param("X-Amz-Credential"),
            param("X-Amz-Date"),
            param("X-Amz-SignedHeaders"),
        ) else {
            return Err(denied(
                MALFORMED,
                "a presigned URL needs X-Amz-Credential, X-Amz-Date and X-Amz-SignedHeaders",
            ));
        };
        let expires = match param("X-Amz-Expires") {
            None => None,
            Some(text) => match text.parse::<u64>() {
                Ok(secs) if secs <= MAX_EXPIRES => Some(secs),
                _ => {
                    return Err(denied(
                        MALFORMED,
                        format!(
                            "X-Amz-Expires {text} is not a number of seconds up to {MAX_EXPIRES}"
                        ),
                    ));
                }
            },
        };
        let (access_key_id, scope) = credential.split_once('/').unwrap_or((credential, ""));
        Signed {
            access_key_id,
            scope,
            amz_date,
            signed_headers,
            signature,
            session_token: param("X-Amz-Security-Token").map(str::to_owned),
            presigned: true,
            expires,
        }
    } else {
        return Err(denied(
            MISSING,
            "not signed: no SigV4 Authorization header and no X-Amz-Signature in the query string",
        ));
    };

    if signed.access_key_id != credentials.access_key_id {
        return Err(denied(
            INVALID_TOKEN,
            format!(
                "signed with access key {}, not this run's {}",
                signed.access_key_id, credentials.access_key_id
            ),
        ));
    }
    if signed.session_token.as_deref() != Some(credentials.session_token.as_str()) {
        return Err(denied(
            INVALID_TOKEN,
            "the session token (X-Amz-Security-Token) is missing or not this run's",
        ));
    }
    let Some(signed_at) = parse_amz_date(signed.amz_date) else {
        return Err(denied(
            MALFORMED,
            format!("X-Amz-Date {} is not YYYYMMDDTHHMMSSZ", signed.amz_date),
        ));
    };
    let expected_scope = format!("{}/{REGION}/{SERVICE}/aws4_request", &signed.amz_date[..8]);
    if signed.scope != expected_scope {
        return Err(denied(
            MISMATCH,
            format!(
                "credential scope {} is not {expected_scope} (date of X-Amz-Date, region {REGION}, service {SERVICE})",
                signed.scope
            ),
        ));
    }
    let ahead = signed_at.duration_since(now).unwrap_or_default();
    let behind = now.duration_since(signed_at).unwrap_or_default();
    let stale = match signed.expires {
        // A presigned URL is good from its date (give or take the skew) until it expires.
        Some(expires) => ahead > MAX_SKEW || behind > Duration::from_secs(expires),
        None => ahead > MAX_SKEW || behind > MAX_SKEW,
    };
    if stale {
        return Err(denied(
            EXPIRED,
            format!(
                "signed at {} ({}), the gateway's clock says {}",
                signed.amz_date,
                match signed.expires {
                    Some(expires) => format!("valid for {expires} s"),
                    None => "more than 15 minutes away".to_owned(),
                },
                amz_date(now)
            ),
        ));
    }

    let signed_names: Vec<&str> = signed.signed_headers.split(';').collect();
    if !signed_names.contains(&"host") {
        return Err(denied(MALFORMED, "SignedHeaders must include host"));
    }
    let mut canonical_headers = String::new();
    for name in &signed_names {
        let values: Vec<String> = headers
            .get_all(*name)
            .iter()
            .map(|v| canonical_value(&String::from_utf8_lossy(v.as_bytes())))
            .collect();
        if values.is_empty() {
            return Err(denied(
                MISMATCH,
                format!("signed header {name} is not in the request"),
            ));
        }
        canonical_headers.push_str(&format!("{name}:{}\n", values.join(",")));
    }
    let canonical_query = canonical_query(
        params
            .iter()
            .filter(|(k, _)| k != "X-Amz-Signature")
            .map(|(k, v)| (k.as_str(), v.as_str())),
    );
    let empty_payload = assembly::sha256_hex(b"");
    let mut payloads = vec![header("x-amz-content-sha256").unwrap_or(&empty_payload)];
    // Some presigners (S3's habit) sign the payload as unsigned; either hash is accepted there.
    if signed.presigned {
        payloads.push("UNSIGNED-PAYLOAD");
    }
    let matches = payloads.iter().any(|payload| {
        let request = format!(
            "{method}\n{}\n{canonical_query}\n{canonical_headers}\n{}\n{payload}",
            canonical_uri(path),
            signed.signed_headers
        );
        let expected = signature(credentials, SERVICE, signed_at, signed.amz_date, &request);
        constant_time_eq(expected.as_bytes(), signed.signature.as_bytes())
    });
    if matches {
        Ok(())
    } else {
        Err(denied(
            MISMATCH,
            format!(
                "the signature over {} does not match (signed with another secret, or the request changed after signing)",
                signed.signed_headers
            ),
        ))
    }
}

/// A presigned query string (no leading `?`) for `GET {path}` on `host`, valid for `expires`
/// from `now`: what a client would connect with, e.g. `wscat -c 'ws://host/dev?…'`.
pub(crate) fn presign(
    credentials: &Credentials,
    host: &str,
    path: &str,
    now: SystemTime,
    expires: Duration,
) -> String {
    let date = amz_date(now);
    let credential = format!(
        "{}/{}/{REGION}/{SERVICE}/aws4_request",
        credentials.access_key_id,
        &date[..8]
    );
    let expires = expires.as_secs().clamp(1, MAX_EXPIRES).to_string();
    let params = [
        ("X-Amz-Algorithm", ALGORITHM),
        ("X-Amz-Credential", credential.as_str()),
        ("X-Amz-Date", date.as_str()),
        ("X-Amz-Expires", expires.as_str()),
        ("X-Amz-Security-Token", credentials.session_token.as_str()),
        ("X-Amz-SignedHeaders", "host"),
    ];
    let query = canonical_query(params.into_iter());
    let request = format!(
        "GET\n{}\n{query}\nhost:{}\n\nhost\n{}",
        canonical_uri(path),
        canonical_value(host),
        assembly::sha256_hex(b"")
    );
    let signed_at = parse_amz_date(&date).unwrap_or(now);
    let signature = signature(credentials, SERVICE, signed_at, &date, &request);
    format!("{query}&X-Amz-Signature={signature}")
}

/// The headers that sign an AWS JSON-protocol `POST /` to `host` for `service` (its SigV4
/// name: `dynamodb`, `secretsmanager`): `X-Amz-Date`, `X-Amz-Security-Token` and
/// `Authorization`, over `headers` (the request's other headers, `host` excluded) and `body`.
/// What the gateway calls the local AWS services with, as an SDK would.
pub(crate) fn sign_post(
    credentials: &Credentials,
    service: &str,
    host: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    now: SystemTime,
) -> Vec<(&'static str, String)> {
    let date = amz_date(now);
    let mut all: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), canonical_value(v)))
        .collect();
    all.push(("host".to_owned(), canonical_value(host)));
    all.push(("x-amz-date".to_owned(), date.clone()));
    all.push((
        "x-amz-security-token".to_owned(),
        credentials.session_token.clone(),
    ));
    all.sort();
    let canonical_headers: String = all.iter().map(|(k, v)| format!("{k}:{v}\n")).collect();
    let signed_headers = all
        .iter()
        .map(|(k, _)| k.as_str())
        .collect::<Vec<_>>()
        .join(";");
    let request = format!(
        "POST\n/\n\n{canonical_headers}\n{signed_headers}\n{}",
        assembly::sha256_hex(body)
    );
    let signed_at = parse_amz_date(&date).unwrap_or(now);
    let signature = signature(credentials, service, signed_at, &date, &request);
    vec![
        (
            "Authorization",
            format!(
                "{ALGORITHM} Credential={}/{}/{REGION}/{service}/aws4_request, SignedHeaders={signed_headers}, Signature={signature}",
                credentials.access_key_id,
                &date[..8]
            ),
        ),
        ("X-Amz-Date", date),
        ("X-Amz-Security-Token", credentials.session_token.clone()),
    ]
}

/// Signs a canonical request: the string to sign, then aws-sigv4's signing key and HMAC.
fn signature(
    credentials: &Credentials,
    service: &str,
    signed_at: SystemTime,
    amz_date: &str,
    canonical_request: &str,
) -> String {
    let string_to_sign = format!(
        "{ALGORITHM}\n{amz_date}\n{}/{REGION}/{service}/aws4_request\n{}",
        &amz_date[..8],
        assembly::sha256_hex(canonical_request.as_bytes())
    );
    let key = aws_sigv4::sign::v4::generate_signing_key(
        &credentials.secret_access_key,
        signed_at,
        REGION,
        service,
    );
    aws_sigv4::sign::v4::calculate_signature(key, string_to_sign.as_bytes())
}

/// The path as sent, with `%` and anything else outside RFC 3986's unreserved set encoded again
/// (SigV4 encodes the path twice for every service but S3).
fn canonical_uri(path: &str) -> String {
    if path.is_empty() {
        return "/".to_owned();
    }
    uri_encode(path, false)
}

/// Every parameter decoded, then encoded the SigV4 way and sorted by name, then value.
fn canonical_query<'a>(params: impl Iterator<Item = (&'a str, &'a str)>) -> String {
    let mut encoded: Vec<(String, String)> = params
        .map(|(k, v)| (uri_encode(k, true), uri_encode(v, true)))
        .collect();
    encoded.sort();
    encoded
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// A query string's pairs, decoded (`+` is a space, as form encoding has it).
fn query_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (
                percent_decode(&k.replace('+', " ")),
                percent_decode(&v.replace('+', " ")),
            )
        })
        .collect()
}

/// RFC 3986 encoding as SigV4 wants it: unreserved characters stay, everything else is `%XX`
/// (upper case); `/` stays unless `slash` says otherwise.
fn uri_encode(text: &str, slash: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(byte as char);
            }
            b'/' if !slash => out.push('/'),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

/// A header value as SigV4 canonicalizes it: trimmed, runs of spaces made one.
fn canonical_value(value: &str) -> String {
    value.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `20261124T182000Z` → the time it names.
fn parse_amz_date(text: &str) -> Option<SystemTime> {
    let b = text.as_bytes();
    let digits = |range: std::ops::Range<usize>| b[range].iter().all(u8::is_ascii_digit);
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' || !digits(0..8) || !digits(9..15) {
        return None;
    }
    let rfc3339 = format!(
        "{}-{}-{}T{}:{}:{}Z",
        &text[0..4],
        &text[4..6],
        &text[6..8],
        &text[9..11],
        &text[11..13],
        &text[13..15]
    );
    humantime::parse_rfc3339(&rfc3339).ok()
}

/// The time as `X-Amz-Date` writes it: `20261124T182000Z`.
fn amz_date(time: SystemTime) -> String {
    humantime::format_rfc3339_seconds(time)
        .to_string()
        .replace(['-', ':'], "")
}

/// Compares signatures without telling, by its timing, how much of one matched.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn credentials() -> Credentials {
        Credentials {
            access_key_id: "ASIAEXAMPLEEXAMPLE00".into(),
            secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(),
            session_token: "token".into(),
        }
    }

    #[test]
    fn canonical_forms_follow_sigv4() {
        assert_eq!(uri_encode("a b/c~%", true), "a%20b%2Fc~%25");
        assert_eq!(canonical_uri("/dev"), "/dev");
        assert_eq!(canonical_uri(""), "/");
        assert_eq!(canonical_uri("/a%20b"), "/a%2520b");
        assert_eq!(
            canonical_query([("b", "2"), ("a", "x y"), ("a", "1")].into_iter()),
            "a=1&a=x%20y&b=2"
        );
        assert_eq!(canonical_value("  a   b "), "a b");
        let t = parse_amz_date("20261124T182000Z").unwrap();
        assert_eq!(amz_date(t), "20261124T182000Z");
        assert_eq!(parse_amz_date("2026-11-24T18:20:00Z"), None);
        assert_eq!(parse_amz_date("20261124T18200xZ"), None);
    }

    #[test]
    fn presigned_queries_verify_until_they_expire() {
        let creds = credentials();
        let now = parse_amz_date("20261124T182000Z").unwrap();
        let query = presign(
            &creds,
            "127.0.0.1:3001",
            "/dev",
            now,
            Duration::from_secs(60),
        );
        let mut headers = HeaderMap::new();
        headers.insert("host", "127.0.0.1:3001".parse().unwrap());
        let check =
            |query: &str, at: SystemTime| verify("GET", "/dev", Some(query), &headers, &creds, at);
        assert_eq!(check(&query, now), Ok(()));
        assert_eq!(check(&query, now + Duration::from_secs(59)), Ok(()));
        assert_eq!(
            check(&query, now + Duration::from_secs(61))
                .unwrap_err()
                .message,
            EXPIRED
        );
        let tampered = query.replace("X-Amz-Expires=60", "X-Amz-Expires=600");
        assert_eq!(check(&tampered, now).unwrap_err().message, MISMATCH);
        let mut other = creds.clone();
        other.secret_access_key.push('x');
        let forged = presign(
            &other,
            "127.0.0.1:3001",
            "/dev",
            now,
            Duration::from_secs(60),
        );
        assert_eq!(check(&forged, now).unwrap_err().message, MISMATCH);
        assert_eq!(
            verify("GET", "/dev", Some("a=1"), &headers, &creds, now)
                .unwrap_err()
                .message,
            MISSING
        );
    }

    #[test]
    fn identity_names_the_role_session() {
        let identity = credentials().identity();
        assert_eq!(identity["accessKey"], "ASIAEXAMPLEEXAMPLE00");
        assert_eq!(identity["accountId"], ACCOUNT);
        assert_eq!(identity["caller"], "AROAEXAMPLEEXAMPLE00:wsecho-local-dev");
        assert_eq!(
            identity["userArn"],
            "arn:aws:sts::000000000000:assumed-role/wsecho-local-dev/wsecho-local-dev"
        );
        let generated = Credentials::generate();
        assert!(generated.access_key_id.starts_with("ASIA"));
        assert_eq!(generated.access_key_id.len(), 20);
        assert_eq!(generated.secret_access_key.len(), 40);
        assert!(!format!("{generated:?}").contains(&generated.secret_access_key));
    }
}
