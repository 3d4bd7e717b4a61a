//! The stage's throttling (`DefaultRouteSettings.ThrottlingBurstLimit` and
//! `ThrottlingRateLimit`), as API Gateway applies it: a token bucket of `burst` tokens refilled
//! at `rate` a second, one token per `$connect` and per message; none left is a 429 "Too Many
//! Requests".

use std::sync::Mutex;
use std::time::Instant;

use serde_json::Value;

/// The limits a stage sets.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Limits {
    pub(crate) burst: u32,
    pub(crate) rate: f64,
}

impl Limits {
    /// From a Stage's properties; `None` when it sets neither (the account's limits, far above
    /// what a local run reaches), or an error naming what is wrong.
    pub(crate) fn read(stage: &serde_json::Map<String, Value>) -> Result<Option<Limits>, String> {
        let settings = stage.get("DefaultRouteSettings");
        let number = |name: &str| -> Result<Option<f64>, String> {
            match settings.and_then(|s| s.get(name)) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::Number(n)) => Ok(n.as_f64()),
                Some(Value::String(s)) => s
                    .parse()
                    .map(Some)
                    .map_err(|_| format!("DefaultRouteSettings.{name} {s:?} is not a number")),
                Some(other) => Err(format!(
                    "DefaultRouteSettings.{name} must be a number, not {other}"
                )),
            }
        };
        let burst = number("ThrottlingBurstLimit")?;
        let rate = number("ThrottlingRateLimit")?;
        Ok(match (burst, rate) {
            (None, None) => None,
            // One alone: API Gateway's account default stands in for the other.
            (burst, rate) => Some(Limits {
                burst: burst.map_or(5000, |b| b.max(0.0) as u32),
                rate: rate.unwrap_or(10_000.0).max(0.0),
            }),
        })
    }
}

/// A token bucket over [`Limits`].
pub(crate) struct Bucket {
    limits: Limits,
    state: Mutex<(f64, Instant)>,
}

impl Bucket {
    pub(crate) fn new(limits: Limits) -> Bucket {
        Bucket {
            limits,
            state: Mutex::new((f64::from(limits.burst), Instant::now())),
        }
    }

    /// Takes a token; false when the request is throttled.
    pub(crate) fn take(&self) -> bool {
        self.take_at(Instant::now())
    }

    fn take_at(&self, now: Instant) -> bool {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let (tokens, last) = *state;
        let refilled = (tokens
            + now.saturating_duration_since(last).as_secs_f64() * self.limits.rate)
            .min(f64::from(self.limits.burst));
        let taken = refilled >= 1.0;
        *state = (if taken { refilled - 1.0 } else { refilled }, now.max(last));
        taken
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::json;

    use super::*;

    #[test]
    fn limits_are_read_from_the_default_route_settings() {
        let read = |stage: Value| Limits::read(stage.as_object().unwrap());
        assert_eq!(read(json!({})), Ok(None));
        assert_eq!(
            read(
                json!({"DefaultRouteSettings": {"ThrottlingBurstLimit": 5, "ThrottlingRateLimit": 2.5}})
            ),
            Ok(Some(Limits {
                burst: 5,
                rate: 2.5
            }))
        );
        assert_eq!(
            read(json!({"DefaultRouteSettings": {"ThrottlingRateLimit": "10"}})),
            Ok(Some(Limits {
                burst: 5000,
                rate: 10.0
            }))
        );
        assert!(
            read(json!({"DefaultRouteSettings": {"ThrottlingBurstLimit": {"Ref": "X"}}})).is_err()
        );
    }

    #[test]
    fn a_burst_then_the_rate() {
        let bucket = Bucket::new(Limits {
            burst: 3,
            rate: 2.0,
        });
        let start = Instant::now();
        assert!((0..3).all(|_| bucket.take_at(start)));
        assert!(!bucket.take_at(start));
        // Half a second at 2 a second: one more.
        assert!(bucket.take_at(start + Duration::from_millis(500)));
        assert!(!bucket.take_at(start + Duration::from_millis(500)));
        // Never more than the burst, however long it rested.
        let later = start + Duration::from_secs(60);
        assert!((0..3).all(|_| bucket.take_at(later)));
        assert!(!bucket.take_at(later));
    }
}
