//! The stage's throttling as API Gateway applies it: `DefaultRouteSettings` gives every route
//! its `ThrottlingBurstLimit` and `ThrottlingRateLimit`, and `RouteSettings` (keyed by route
//! key) overrides them for one route. Each route has its own token bucket of `burst` tokens
//! refilled at `rate` a second, one token per `$connect` and per message its route selects;
//! none left is a 429 "Too Many Requests" (a refused handshake, or an error frame on a
//! connection that stays open).

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Instant;

use serde_json::{Map, Value};

/// API Gateway's account-level limits per Region: what a route gets for a limit neither its
/// own settings nor the stage's defaults set.
const ACCOUNT_BURST: u32 = 5000;
const ACCOUNT_RATE: f64 = 10_000.0;

/// The limits of one route.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Limits {
    pub(crate) burst: u32,
    pub(crate) rate: f64,
}

/// A settings object's two limits, each if set.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Partial {
    burst: Option<f64>,
    rate: Option<f64>,
}

impl Partial {
    fn read(settings: Option<&Value>, name: &str) -> Result<Partial, String> {
        let settings = match settings {
            None | Some(Value::Null) => return Ok(Partial::default()),
            Some(Value::Object(settings)) => settings,
            Some(other) => return Err(format!("{name} must be an object, not {other}")),
        };
        let number = |field: &str| -> Result<Option<f64>, String> {
            match settings.get(field) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::Number(n)) => Ok(n.as_f64()),
                Some(Value::String(s)) => s
                    .parse()
                    .map(Some)
                    .map_err(|_| format!("{name}.{field} {s:?} is not a number")),
                Some(other) => Err(format!("{name}.{field} must be a number, not {other}")),
            }
        };
        Ok(Partial {
            burst: number("ThrottlingBurstLimit")?,
            rate: number("ThrottlingRateLimit")?,
        })
    }

    fn is_empty(self) -> bool {
        self.burst.is_none() && self.rate.is_none()
    }
}

/// The stage's throttling, resolved per route key.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Throttling {
    /// By route key; a route that is absent is not throttled (the account's limits, far above
    /// what a local run reaches).
    routes: BTreeMap<String, Limits>,
}

impl Throttling {
    /// From a Stage's properties, for the API's route keys (`$connect` is throttled even
    /// without a `$connect` route: the handshake is a request). An error names what is wrong,
    /// including a `RouteSettings` key that is no route of the API, which API Gateway refuses
    /// too ("Unable to find Route by key ... within the provided RouteSettings").
    pub(crate) fn read<'a>(
        stage: &Map<String, Value>,
        route_keys: impl IntoIterator<Item = &'a str>,
    ) -> Result<Throttling, String> {
        let defaults = Partial::read(stage.get("DefaultRouteSettings"), "DefaultRouteSettings")?;
        let mut overrides = BTreeMap::new();
        match stage.get("RouteSettings") {
            None | Some(Value::Null) => {}
            Some(Value::Object(settings)) => {
                for (key, value) in settings {
                    let name = format!("RouteSettings.{key}");
                    overrides.insert(key.as_str(), Partial::read(Some(value), &name)?);
                }
            }
            Some(other) => return Err(format!("RouteSettings must be an object, not {other}")),
        }
        let mut keys: Vec<&str> = route_keys.into_iter().collect();
        keys.push("$connect");
        if let Some(unknown) = overrides.keys().find(|key| !keys.contains(key)) {
            return Err(format!(
                "RouteSettings names route `{unknown}`, which the API does not have (API Gateway refuses it: Unable to find Route by key {unknown} within the provided RouteSettings)"
            ));
        }
        let mut routes = BTreeMap::new();
        for key in keys {
            let own = overrides.get(key).copied().unwrap_or_default();
            if own.is_empty() && defaults.is_empty() {
                continue;
            }
            // Field by field: the route's own setting, else the stage's default, else the
            // account's.
            let burst = own.burst.or(defaults.burst);
            let rate = own.rate.or(defaults.rate);
            routes.insert(
                key.to_owned(),
                Limits {
                    burst: burst.map_or(ACCOUNT_BURST, |b| b.max(0.0) as u32),
                    rate: rate.unwrap_or(ACCOUNT_RATE).max(0.0),
                },
            );
        }
        Ok(Throttling { routes })
    }

    /// A bucket for each throttled route, full.
    pub(crate) fn buckets(&self) -> BTreeMap<String, Bucket> {
        self.routes
            .iter()
            .map(|(key, limits)| (key.clone(), Bucket::new(*limits)))
            .collect()
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

    fn read(stage: Value, keys: &[&str]) -> Result<BTreeMap<String, Limits>, String> {
        Throttling::read(stage.as_object().unwrap(), keys.iter().copied()).map(|t| t.routes)
    }

    fn limits(burst: u32, rate: f64) -> Limits {
        Limits { burst, rate }
    }

    #[test]
    fn every_route_gets_the_default_route_settings() {
        assert_eq!(read(json!({}), &["$default"]), Ok(BTreeMap::new()));
        assert_eq!(
            read(
                json!({"DefaultRouteSettings": {"ThrottlingBurstLimit": 5, "ThrottlingRateLimit": 2.5}}),
                &["$default", "echo"]
            ),
            Ok(BTreeMap::from([
                ("$connect".to_owned(), limits(5, 2.5)),
                ("$default".to_owned(), limits(5, 2.5)),
                ("echo".to_owned(), limits(5, 2.5)),
            ]))
        );
        // One alone: the account's limit stands in for the other.
        assert_eq!(
            read(
                json!({"DefaultRouteSettings": {"ThrottlingRateLimit": "10"}}),
                &[]
            ),
            Ok(BTreeMap::from([(
                "$connect".to_owned(),
                limits(5000, 10.0)
            )]))
        );
        assert!(
            read(
                json!({"DefaultRouteSettings": {"ThrottlingBurstLimit": {"Ref": "X"}}}),
                &[]
            )
            .is_err()
        );
    }

    #[test]
    fn route_settings_override_the_defaults_for_their_route_field_by_field() {
        let stage = json!({
            "DefaultRouteSettings": {"ThrottlingBurstLimit": 100, "ThrottlingRateLimit": 50},
            "RouteSettings": {
                "slow": {"ThrottlingBurstLimit": 2, "ThrottlingRateLimit": 1, "LoggingLevel": "INFO"},
                "$connect": {"ThrottlingRateLimit": 3}
            }
        });
        let routes = read(stage, &["slow", "fast"]).unwrap();
        assert_eq!(routes["slow"], limits(2, 1.0));
        assert_eq!(routes["fast"], limits(100, 50.0));
        assert_eq!(routes["$connect"], limits(100, 3.0));
        // Without defaults, only the routes that set limits are throttled.
        let stage = json!({"RouteSettings": {"slow": {"ThrottlingBurstLimit": 2}, "fast": {"DataTraceEnabled": true}}});
        assert_eq!(
            read(stage, &["slow", "fast"]),
            Ok(BTreeMap::from([("slow".to_owned(), limits(2, 10_000.0))]))
        );
    }

    #[test]
    fn route_settings_for_a_route_the_api_lacks_are_refused() {
        let stage = json!({"RouteSettings": {"sendmessage": {"ThrottlingBurstLimit": 2}}});
        let error = read(stage, &["$default"]).unwrap_err();
        assert!(error.contains("`sendmessage`"), "{error}");
        let stage = json!({"RouteSettings": {"echo": 3}});
        assert!(
            read(stage, &["echo"])
                .unwrap_err()
                .contains("RouteSettings.echo")
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
