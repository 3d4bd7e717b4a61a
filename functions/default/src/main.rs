use lambda_runtime::{Error, LambdaEvent, service_fn};
use shared::ApiGatewayWebsocketProxyRequest;
use shared::management::Management;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::logging::init();
    // Built once: every invocation of this process reuses the client and its connections.
    let management = &Management::from_env()?;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<ApiGatewayWebsocketProxyRequest>| async move {
            Ok::<_, Error>(default::handle(event.payload, management).await)
        },
    ))
    .await
}
