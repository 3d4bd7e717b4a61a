//! The one `main` of every function: JSON logs, a single-threaded runtime, what the handler
//! needs built once per process, then `lambda_runtime`'s loop.

use std::future::Future;
use std::time::{Duration, SystemTime};

use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use lambda_runtime::{LambdaEvent, service_fn};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::authorizer::{AuthorizerRequest, AuthorizerResponse, Unauthorized};
use crate::logging;

/// What `main` returns on a start-up failure (Lambda reports it as an init error).
pub type Error = lambda_runtime::Error;

/// Runs `handler` for every event Lambda hands this process. `setup` builds its state once,
/// before the first event (clients, settings read from the environment); the state lives as
/// long as the process, as a warm Lambda's does.
///
/// One thread: Lambda hands a process one invocation at a time, and a multi-threaded runtime
/// only adds wake-ups between the runtime loop and the HTTP connection tasks (measured: see
/// BENCHMARKS.md).
pub fn run<S, H, F>(setup: impl FnOnce() -> Result<S, Error>, handler: H) -> Result<(), Error>
where
    S: Sync + 'static,
    H: Fn(ApiGatewayWebsocketProxyRequest, &'static S) -> F,
    F: Future<Output = ApiGatewayProxyResponse>,
{
    serve(
        move || std::future::ready(setup()),
        move |event: LambdaEvent<ApiGatewayWebsocketProxyRequest>, state| {
            let response = handler(event.payload, state);
            async move { Ok::<_, Error>(response.await) }
        },
    )
}

/// [`run`] for a handler that must finish in time whatever happens (a broadcast): it is also
/// handed the invocation's remaining time, from Lambda's deadline for it.
pub fn run_timed<S, H, F>(setup: impl FnOnce() -> Result<S, Error>, handler: H) -> Result<(), Error>
where
    S: Sync + 'static,
    H: Fn(ApiGatewayWebsocketProxyRequest, &'static S, Duration) -> F,
    F: Future<Output = ApiGatewayProxyResponse>,
{
    serve(
        move || std::future::ready(setup()),
        move |event: LambdaEvent<ApiGatewayWebsocketProxyRequest>, state| {
            // A deadline already past (or a clock ahead of Lambda's) leaves no time at all.
            let remaining = event
                .context
                .deadline()
                .duration_since(SystemTime::now())
                .unwrap_or(Duration::ZERO);
            let response = handler(event.payload, state, remaining);
            async move { Ok::<_, Error>(response.await) }
        },
    )
}

/// [`run`] for a `$connect` authorizer: `handler` answers with a policy, or fails with
/// [`Unauthorized`] (the client gets 401).
pub fn run_authorizer<S, H, F>(
    setup: impl FnOnce() -> Result<S, Error>,
    handler: H,
) -> Result<(), Error>
where
    S: Sync + 'static,
    H: Fn(AuthorizerRequest, &'static S) -> F,
    F: Future<Output = Result<AuthorizerResponse, Unauthorized>>,
{
    run_authorizer_async(move || std::future::ready(setup()), handler)
}

/// [`run_authorizer`] with a `setup` that awaits, such as reading a key from Secrets Manager
/// once per process. It runs before the first event, so a failure is Lambda's init error.
pub fn run_authorizer_async<S, SF, H, F>(
    setup: impl FnOnce() -> SF,
    handler: H,
) -> Result<(), Error>
where
    S: Sync + 'static,
    SF: Future<Output = Result<S, Error>>,
    H: Fn(AuthorizerRequest, &'static S) -> F,
    F: Future<Output = Result<AuthorizerResponse, Unauthorized>>,
{
    serve(
        setup,
        move |event: LambdaEvent<AuthorizerRequest>, state| {
            let response = handler(event.payload, state);
            async move { response.await.map_err(Error::from) }
        },
    )
}

fn serve<S, SF, E, R, H, F>(setup: impl FnOnce() -> SF, handler: H) -> Result<(), Error>
where
    S: Sync + 'static,
    SF: Future<Output = Result<S, Error>>,
    E: DeserializeOwned,
    R: Serialize,
    H: Fn(LambdaEvent<E>, &'static S) -> F,
    F: Future<Output = Result<R, Error>>,
{
    logging::init();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        // Built inside the runtime: clients may look for it while they are made.
        // As its message: `main` prints a returned error with `Debug`, which for a typed
        // error would be its variant name only.
        let state = setup()
            .await
            .map_err(|error| Error::from(error.to_string()))?;
        let state: &'static S = Box::leak(Box::new(state));
        let handler = &handler;
        lambda_runtime::run(service_fn(move |event: LambdaEvent<E>| async move {
            handler(event, state).await
        }))
        .await
    })
}
