use lambda_runtime::{Error, LambdaEvent, service_fn};
use shared::ApiGatewayWebsocketProxyRequest;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::logging::init();
    lambda_runtime::run(service_fn(
        |event: LambdaEvent<ApiGatewayWebsocketProxyRequest>| async move {
            Ok::<_, Error>(connect::handle(event.payload).await)
        },
    ))
    .await
}
