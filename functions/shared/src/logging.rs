//! JSON logs on stdout, one object per line, which CloudWatch Logs indexes field by field.

use lambda_runtime::tracing::subscriber::EnvFilter;
use lambda_runtime::tracing::subscriber::filter::LevelFilter;
use lambda_runtime::tracing::subscriber::fmt::MakeWriter;
use tracing::Subscriber;

/// Installs the JSON subscriber on stdout. The level comes from `AWS_LAMBDA_LOG_LEVEL`
/// (Lambda's advanced logging controls), then `RUST_LOG`, then INFO.
pub fn init() {
    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|_| std::env::var("RUST_LOG"))
        .ok()
        .and_then(|level| level.parse::<LevelFilter>().ok())
        .unwrap_or(LevelFilter::INFO);
    // Ignore "already set": only the first call of a process installs a subscriber.
    let _ = tracing::subscriber::set_global_default(subscriber(level, std::io::stdout));
}

/// The subscriber [`init`] installs, writing to `writer` (tests capture the lines with it).
pub fn subscriber<W>(level: LevelFilter, writer: W) -> impl Subscriber + Send + Sync + 'static
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let filter = EnvFilter::builder()
        .with_default_directive(level.into())
        .from_env_lossy();
    lambda_runtime::tracing::subscriber::fmt()
        .json()
        // Fields at the top level of each line, so CloudWatch Logs Insights can filter on them.
        .flatten_event(true)
        .with_current_span(false)
        .with_span_list(false)
        .with_target(false)
        .with_env_filter(filter)
        .with_writer(writer)
        .finish()
}
