//! Identifiers and timestamps shaped like the ones API Gateway and Lambda hand out.

use std::hash::{BuildHasher, Hasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Not cryptographic: ids only need to be unique and look like AWS's.
fn random_u64() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    hasher.write_u128(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos(),
    );
    hasher.finish()
}

/// A connection, request or message id such as `CX1a2cOoDoECIbQ=`: 15 characters and `=`.
/// Only letters and digits, so it needs no escaping in `@connections/{id}`.
pub(crate) fn aws_id() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let (mut a, mut b) = (random_u64(), random_u64());
    let mut id = String::with_capacity(16);
    for i in 0..15 {
        let source = if i < 8 { &mut a } else { &mut b };
        id.push(ALPHABET[(*source % 62) as usize] as char);
        *source /= 62;
    }
    id.push('=');
    id
}

/// `len` characters from `alphabet` for the run's generated API keys and credentials. Not
/// cryptographic either, but unpredictable from outside this process (std's per-process random
/// hasher keys), which is what a loopback development server's secrets need.
pub(crate) fn secret(len: usize, alphabet: &[u8]) -> String {
    let base = alphabet.len() as u64;
    let mut out = String::with_capacity(len);
    let mut pool = random_u64();
    let mut left = 64 / (64 - base.leading_zeros()).max(1);
    for _ in 0..len {
        if left == 0 {
            pool = random_u64();
            left = 64 / (64 - base.leading_zeros()).max(1);
        }
        out.push(alphabet[(pool % base) as usize] as char);
        pool /= base;
        left -= 1;
    }
    out
}

/// A Lambda request id (a UUID).
pub(crate) fn uuid() -> String {
    let (a, b) = (random_u64(), random_u64());
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        0x8000 | (b >> 48) & 0x3fff,
        b & 0xffff_ffff_ffff
    )
}

/// An X-Ray trace header, as Lambda passes in `Lambda-Runtime-Trace-Id`.
pub(crate) fn trace_id() -> String {
    let secs = now_ms() / 1000;
    format!(
        "Root=1-{secs:08x}-{:016x}{:08x};Parent={:016x};Sampled=0",
        random_u64(),
        random_u64() as u32,
        random_u64()
    )
}

pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as u64
}

/// `requestContext.requestTime`: `24/Nov/2026:18:20:00 +0000`.
pub(crate) fn request_time(ms: u64) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let t = iso8601(ms);
    let month: usize = t[5..7].parse().expect("two digits");
    format!(
        "{}/{}/{}:{} +0000",
        &t[8..10],
        MONTHS[month - 1],
        &t[..4],
        &t[11..19]
    )
}

/// ISO 8601 with milliseconds, as the management API's GET returns:
/// `2026-11-24T18:20:00.012Z`. The other formats are cut from it.
pub(crate) fn iso8601(ms: u64) -> String {
    humantime::format_rfc3339_millis(UNIX_EPOCH + Duration::from_millis(ms)).to_string()
}

/// `HH:MM:SS.mmm` for log lines.
pub(crate) fn clock(ms: u64) -> String {
    let mut time = iso8601(ms);
    time.truncate(23);
    time.drain(..11);
    time
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_times_like_api_gateway() {
        // 2026-11-24T18:20:00.012Z
        let ms = 1_795_544_400_012;
        assert_eq!(request_time(ms), "24/Nov/2026:18:20:00 +0000");
        assert_eq!(iso8601(ms), "2026-11-24T18:20:00.012Z");
        assert_eq!(iso8601(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(clock(ms), "18:20:00.012");
        assert_eq!(request_time(0), "01/Jan/1970:00:00:00 +0000");
    }

    #[test]
    fn ids_are_shaped_and_distinct() {
        let (a, b) = (aws_id(), aws_id());
        assert_ne!(a, b);
        assert_eq!(a.len(), 16);
        assert!(a.ends_with('='));
        assert!(a[..15].chars().all(|c| c.is_ascii_alphanumeric()));
        assert_eq!(uuid().len(), 36);
        let key = secret(40, b"ab");
        assert_eq!(key.len(), 40);
        assert!(key.chars().all(|c| c == 'a' || c == 'b'));
        assert_ne!(secret(40, b"0123456789"), secret(40, b"0123456789"));
    }
}
