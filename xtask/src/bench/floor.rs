//! The floor: a bare WebSocket echo server with the library the gateway uses
//! (tokio-tungstenite), no routing, no functions. Run as `xtask bench --floor-server` in its
//! own process, like the gateway, so both are measured the same way.

use anyhow::{Context, Result};
use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

/// `read_buffer`: tungstenite's per-connection read buffer (the library's default, 128 KiB,
/// when `None`).
pub fn serve_until_killed(read_buffer: Option<usize>) -> Result<()> {
    let mut config = WebSocketConfig::default();
    if let Some(bytes) = read_buffer {
        config.read_buffer_size = bytes;
    }
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .context("cannot listen on 127.0.0.1")?;
        println!("floor echo server on ws://{}/", listener.local_addr()?);
        loop {
            let (stream, _) = listener.accept().await?;
            tokio::spawn(echo(stream, config));
        }
    })
}

async fn echo(stream: TcpStream, config: WebSocketConfig) {
    let _ = stream.set_nodelay(true);
    let Ok(mut ws) = tokio_tungstenite::accept_async_with_config(stream, Some(config)).await else {
        return;
    };
    while let Some(Ok(message)) = ws.next().await {
        if (message.is_text() || message.is_binary()) && ws.send(message).await.is_err() {
            return;
        }
    }
}
