//! Identifiers and timestamps shaped like the ones API Gateway and Lambda hand out.

use std::hash::{BuildHasher, Hasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

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
pub fn aws_id() -> String {
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

/// A Lambda request id (a UUID).
pub fn uuid() -> String {
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
pub fn trace_id() -> String {
    let secs = now_ms() / 1000;
    format!(
        "Root=1-{secs:08x}-{:016x}{:08x};Parent={:016x};Sampled=0",
        random_u64(),
        random_u64() as u32,
        random_u64()
    )
}

pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as u64
}

/// Civil date from epoch milliseconds: (year, month 1-12, day, hour, minute, second, millis).
fn civil(ms: u64) -> (i64, u32, u32, u32, u32, u32, u32) {
    let secs = (ms / 1000) as i64;
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400) as u32;
    // Howard Hinnant's days-to-civil algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (
        year,
        month,
        day,
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
        (ms % 1000) as u32,
    )
}

/// `requestContext.requestTime`: `24/Nov/2026:18:20:00 +0000`.
pub fn request_time(ms: u64) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let (y, mo, d, h, mi, s, _) = civil(ms);
    format!(
        "{d:02}/{}/{y}:{h:02}:{mi:02}:{s:02} +0000",
        MONTHS[mo as usize - 1]
    )
}

/// ISO 8601 with milliseconds, as the management API's GET returns.
pub fn iso8601(ms: u64) -> String {
    let (y, mo, d, h, mi, s, milli) = civil(ms);
    format!("{y}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{milli:03}Z")
}

/// `HH:MM:SS.mmm` for log lines.
pub fn clock(ms: u64) -> String {
    let (_, _, _, h, mi, s, milli) = civil(ms);
    format!("{h:02}:{mi:02}:{s:02}.{milli:03}")
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
    }

    #[test]
    fn ids_are_shaped_and_distinct() {
        let (a, b) = (aws_id(), aws_id());
        assert_ne!(a, b);
        assert_eq!(a.len(), 16);
        assert!(a.ends_with('='));
        assert!(a[..15].chars().all(|c| c.is_ascii_alphanumeric()));
        assert_eq!(uuid().len(), 36);
    }
}
