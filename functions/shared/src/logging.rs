//! JSON logs on stdout, one object per line, which CloudWatch Logs indexes field by field.
//!
//! A single level rather than `EnvFilter` directives: the filter's regex engine would be the
//! largest dependency of connect and disconnect.

use tracing::Subscriber;
use tracing_subscriber::filter::{LevelFilter, filter_fn};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;

/// Installs the JSON subscriber on stdout at the level of [`level_from_env`].
pub fn init() {
    let level = level_from_env(|name| std::env::var(name).ok());
    // Ignore "already set": only the first call of a process installs a subscriber.
    let _ = tracing::subscriber::set_global_default(subscriber(level, std::io::stdout));
}

/// The level from `AWS_LAMBDA_LOG_LEVEL` (Lambda's advanced logging controls: TRACE, DEBUG,
/// INFO, WARN, ERROR, FATAL), else `RUST_LOG`, else INFO. FATAL counts as ERROR; an
/// unreadable value counts as INFO.
pub fn level_from_env(lookup: impl Fn(&str) -> Option<String>) -> LevelFilter {
    let get = |name: &str| lookup(name).filter(|value| !value.trim().is_empty());
    let Some(value) = get("AWS_LAMBDA_LOG_LEVEL").or_else(|| get("RUST_LOG")) else {
        // Not `"".parse()`: tracing reads an empty level as ERROR.
        return LevelFilter::INFO;
    };
    if value.trim().eq_ignore_ascii_case("fatal") {
        return LevelFilter::ERROR;
    }
    value.trim().parse().unwrap_or(LevelFilter::INFO)
}

/// The subscriber [`init`] installs, writing to `writer` (tests capture the lines with it).
pub fn subscriber<W>(level: LevelFilter, writer: W) -> impl Subscriber + Send + Sync + 'static
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    tracing_subscriber::fmt()
        .json()
        // Fields at the top level of each line, so CloudWatch Logs Insights can filter on them.
        .flatten_event(true)
        .with_current_span(false)
        .with_span_list(false)
        .with_target(false)
        .with_max_level(level)
        .with_writer(writer)
        .finish()
        // Lines carry no span data (above), so spans are switched off where they are created:
        // lambda_runtime opens one per invocation, which the subscriber would otherwise store
        // and format for nothing. The level hint keeps every callsite below `level` (the SDK
        // and hyper have many) switched off statically, as without this filter.
        .with(
            filter_fn(move |metadata| metadata.is_event() && *metadata.level() <= level)
                .with_max_level_hint(level),
        )
}
