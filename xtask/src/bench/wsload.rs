//! WebSocket load for the gateway benchmark: sequential round trips, many clients at once,
//! and connections held open. The same client code drives the gateway and the floor.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// What every client sends: the `echo` route's action, echoed back by both servers.
pub const MESSAGE: &str = r#"{"action":"echo","message":"bench"}"#;
const TIMEOUT: Duration = Duration::from_secs(30);

pub async fn connect(url: &str) -> Result<Ws> {
    // Nagle off, as the servers have it: small request/response messages.
    let connecting = tokio_tungstenite::connect_async_with_config(url, None, true);
    let (ws, _) = tokio::time::timeout(TIMEOUT, connecting)
        .await
        .with_context(|| format!("connecting to {url} took over 30 s"))?
        .with_context(|| format!("cannot connect to {url}"))?;
    Ok(ws)
}

/// Sends one message and waits for its echo.
pub async fn round_trip(ws: &mut Ws) -> Result<Duration> {
    let started = Instant::now();
    ws.send(Message::text(MESSAGE))
        .await
        .context("send failed")?;
    loop {
        let next = tokio::time::timeout(TIMEOUT, ws.next())
            .await
            .context("no echo within 30 s")?;
        match next {
            Some(Ok(Message::Text(text))) => {
                if !text.contains("bench") {
                    bail!("the reply does not echo the message: {text}");
                }
                return Ok(started.elapsed());
            }
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
            Some(Ok(other)) => bail!("unexpected reply: {other:?}"),
            Some(Err(err)) => return Err(err).context("the connection failed"),
            None => bail!("the server closed the connection"),
        }
    }
}

/// One client: `warmup` unmeasured round trips, then `n` measured ones.
pub async fn round_trips(url: &str, warmup: usize, n: usize) -> Result<Vec<Duration>> {
    let mut ws = connect(url).await?;
    for _ in 0..warmup {
        round_trip(&mut ws).await?;
    }
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        samples.push(round_trip(&mut ws).await?);
    }
    let _ = ws.close(None).await;
    Ok(samples)
}

/// `clients` connections (opened first, not timed), each doing `per_client` round trips
/// one after another, all at once: echoes per second over the whole batch.
pub async fn throughput(url: &str, clients: usize, per_client: usize) -> Result<f64> {
    let mut sockets = Vec::with_capacity(clients);
    for _ in 0..clients {
        sockets.push(connect(url).await?);
    }
    let started = Instant::now();
    let tasks: Vec<_> = sockets
        .into_iter()
        .map(|mut ws| {
            tokio::spawn(async move {
                for _ in 0..per_client {
                    round_trip(&mut ws).await?;
                }
                let _ = ws.close(None).await;
                anyhow::Ok(())
            })
        })
        .collect();
    for task in tasks {
        task.await.context("a client task panicked")??;
    }
    Ok((clients * per_client) as f64 / started.elapsed().as_secs_f64())
}

/// Opens `n` connections (50 at a time) and returns them, open and idle.
pub async fn hold(url: &str, n: usize) -> Result<Vec<Ws>> {
    let mut held = Vec::with_capacity(n);
    while held.len() < n {
        let batch = (n - held.len()).min(50);
        let tasks: Vec<_> = (0..batch)
            .map(|_| {
                let url = url.to_owned();
                tokio::spawn(async move { connect(&url).await })
            })
            .collect();
        for task in tasks {
            held.push(task.await.context("a connect task panicked")??);
        }
    }
    Ok(held)
}

/// One client sends `frames` echo messages of about `size` bytes each without waiting for
/// answers, while it reads them (echoes, or the gateway's refusals of a flood) until as many
/// came or 60 s passed; returns how many answers came.
pub async fn flood(url: &str, frames: usize, size: usize) -> Result<usize> {
    let (mut sink, mut stream) = connect(url).await?.split();
    let message = format!(
        r#"{{"action":"echo","message":"{}"}}"#,
        "x".repeat(size.saturating_sub(32))
    );
    // Reading at once: a server that echoes blocks on a client that does not read.
    let reader = tokio::spawn(async move {
        let mut answers = 0;
        let deadline = Instant::now() + Duration::from_secs(60);
        while answers < frames {
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, stream.next()).await {
                Ok(Some(Ok(Message::Text(_)))) => answers += 1,
                Ok(Some(Ok(_))) => {}
                Ok(Some(Err(_)) | None) | Err(_) => break,
            }
        }
        answers
    });
    let sending = async {
        for _ in 0..frames {
            sink.send(Message::text(message.as_str())).await?;
        }
        anyhow::Ok(())
    };
    tokio::time::timeout(Duration::from_secs(60), sending)
        .await
        .context("the flood was not sent within 60 s")?
        .context("the flood's send failed")?;
    let answers = reader.await.context("the flood's reader panicked")?;
    let _ = sink.close().await;
    Ok(answers)
}

/// The `ws://` URL in a line the server printed (its banner, a quoted wscat line), without
/// a query.
pub fn url_in(line: &str) -> Result<String> {
    let start = line.find("ws://").context("no ws:// URL")?;
    let url = line[start..]
        .split(|c: char| c.is_whitespace() || c == '\'' || c == '"' || c == '?')
        .next()
        .unwrap_or_default();
    Ok(url.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_url_is_read_from_the_hint_without_its_query() {
        let line = "  wscat -c \"ws://127.0.0.1:40123/dev?token=$(cargo xtask token --app chat)\"";
        assert_eq!(url_in(line).unwrap(), "ws://127.0.0.1:40123/dev");
        assert_eq!(
            url_in("  WebSocket:      ws://127.0.0.1:1/dev").unwrap(),
            "ws://127.0.0.1:1/dev"
        );
    }
}
