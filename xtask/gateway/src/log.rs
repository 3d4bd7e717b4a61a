//! One readable line per connection, message and function output line, on stderr.
//!
//! Lines go to a buffer that one writer thread empties: under load a single `write` carries
//! many lines (a write per line was a large share of the gateway's CPU per echo), and a slow
//! terminal never stalls the event loop. An idle gateway's lines appear within milliseconds.
//! Whoever prints beside the gateway (`cargo xtask dev --watch`) writes through [`line()`] too,
//! so lines never interleave.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use crate::ids;

/// How long the writer lets lines gather after the first one arrives: short enough to be
/// instant for a person, long enough to batch a busy second's lines into few writes.
const GATHER: Duration = Duration::from_millis(2);

/// Lines waiting beyond this are dropped (and counted) rather than held: a stderr nobody
/// reads must not grow the gateway's memory without bound.
const MAX_PENDING: usize = 8 << 20;

struct Sink {
    pending: Mutex<Pending>,
    arrived: Condvar,
    /// Held while writing, so `flush` returns only once earlier lines are out.
    writing: Mutex<()>,
    /// False if the writer thread could not start: then each line is written at once.
    batching: AtomicBool,
}

static SINK: OnceLock<&'static Sink> = OnceLock::new();

#[derive(Default)]
struct Pending {
    lines: Vec<u8>,
    dropped: u64,
}

impl Pending {
    fn is_empty(&self) -> bool {
        self.lines.is_empty() && self.dropped == 0
    }

    /// Appends a line, or counts it as dropped once `max` bytes wait.
    fn push(&mut self, max: usize, now_ms: u64, source: &str, text: &str) {
        if self.lines.len() < max {
            append(&mut self.lines, now_ms, source, text);
        } else {
            self.dropped += 1;
        }
    }

    /// The bytes to write, with a line saying how many were dropped; leaves `self` empty.
    fn take(&mut self, now_ms: u64) -> Vec<u8> {
        let Pending { mut lines, dropped } = std::mem::take(self);
        if dropped > 0 {
            let text = format!("{dropped} log line(s) dropped: stderr did not keep up");
            append(&mut lines, now_ms, "gateway", &text);
        }
        lines
    }
}

fn sink() -> &'static Sink {
    SINK.get_or_init(|| {
        let sink: &'static Sink = Box::leak(Box::new(Sink {
            pending: Mutex::new(Pending::default()),
            arrived: Condvar::new(),
            writing: Mutex::new(()),
            batching: AtomicBool::new(true),
        }));
        let spawned = std::thread::Builder::new()
            .name("gateway-log".into())
            .spawn(move || writer(sink));
        sink.batching.store(spawned.is_ok(), Ordering::Relaxed);
        sink
    })
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock leaves a byte buffer, which is still usable.
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

fn writer(sink: &'static Sink) {
    loop {
        {
            let mut pending = lock(&sink.pending);
            while pending.is_empty() {
                pending = sink
                    .arrived
                    .wait(pending)
                    .unwrap_or_else(|e| e.into_inner());
            }
        }
        std::thread::sleep(GATHER);
        write_pending(sink);
    }
}

fn write_pending(sink: &Sink) {
    write_pending_to(sink, std::io::stderr().lock());
}

fn write_pending_to(sink: &Sink, mut out: impl Write) {
    let _writing = lock(&sink.writing);
    let lines = lock(&sink.pending).take(ids::now_ms());
    if !lines.is_empty() {
        // A closed stderr must not take the gateway down.
        let _ = out.write_all(&lines);
    }
}

/// `HH:MM:SS.mmm       source | text`, newline-terminated.
fn append(buffer: &mut Vec<u8>, now_ms: u64, source: &str, text: &str) {
    let _ = writeln!(buffer, "{} {source:>12} | {text}", ids::clock(now_ms));
}

/// Logs one line: `HH:MM:SS.mmm       source | text`.
pub fn line(source: &str, text: &str) {
    record(sink(), source, text);
}

fn record(sink: &Sink, source: &str, text: &str) {
    let was_empty = {
        let mut pending = lock(&sink.pending);
        let was_empty = pending.is_empty();
        pending.push(MAX_PENDING, ids::now_ms(), source, text);
        was_empty
    };
    if !sink.batching.load(Ordering::Relaxed) {
        write_pending(sink);
    } else if was_empty {
        sink.arrived.notify_one();
    }
}

/// Writes out every line logged so far (before exiting, or before printing elsewhere).
pub fn flush() {
    if let Some(sink) = SINK.get() {
        write_pending(sink);
    }
}

macro_rules! log {
    ($source:expr, $($arg:tt)*) => {
        $crate::log::line($source, &format!($($arg)*))
    };
}
pub(crate) use log;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_one_per_event_with_time_and_source() {
        let mut buffer = Vec::new();
        // 2026-11-24T18:20:00.012Z
        append(
            &mut buffer,
            1_795_544_400_012,
            "message",
            "abc echo -> echo 200",
        );
        append(
            &mut buffer,
            1_795_544_400_013,
            "@connections",
            "POST abc -> 200",
        );
        assert_eq!(
            String::from_utf8(buffer).unwrap(),
            "18:20:00.012      message | abc echo -> echo 200\n\
             18:20:00.013 @connections | POST abc -> 200\n"
        );
    }

    #[test]
    fn lines_beyond_the_limit_are_counted_and_reported() {
        let mut pending = Pending::default();
        for i in 0..5 {
            pending.push(60, 1_795_544_400_012, "message", &format!("line {i}"));
        }
        let text = String::from_utf8(pending.take(1_795_544_400_013)).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert!(lines[1].ends_with("line 1"), "{text}");
        assert_eq!(
            lines[2],
            "18:20:00.013      gateway | 3 log line(s) dropped: stderr did not keep up"
        );
        assert!(pending.is_empty());
        assert!(pending.take(0).is_empty());
    }

    #[test]
    fn a_write_carries_every_line_logged_before_it_in_order() {
        let sink = Sink {
            pending: Mutex::new(Pending::default()),
            arrived: Condvar::new(),
            writing: Mutex::new(()),
            batching: AtomicBool::new(true),
        };
        record(&sink, "test", "one");
        record(&sink, "test", "two");
        let mut out = Vec::new();
        write_pending_to(&sink, &mut out);
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert!(lines[0].ends_with("test | one"), "{text}");
        assert!(lines[1].ends_with("test | two"), "{text}");
        assert!(lock(&sink.pending).is_empty());
    }
}
