//! The metrics endpoint: a small HTTP/1.1 server on the daemon's runtime answering
//! `GET /metrics` with the snapshot in the Prometheus text format. One request per
//! connection, bounded in size and time: a scraper needs no more, and a bad client costs
//! one short-lived task.

use std::{net::SocketAddr, time::Duration};

use anyhow::{Context as _, Result};
use tokio::{
    io::{AsyncReadExt as _, AsyncWriteExt as _},
    net::{TcpListener, TcpStream},
};
use tracing::{debug, info, warn};

use super::{control_socket::DaemonView, metrics};

/// The most a request's head may take.
const MAX_HEAD: usize = 8192;
/// How long a client has to send its request.
const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Binds the endpoint's address (before the host is changed, so a taken or wrong address
/// refuses the start cleanly).
pub fn bind(addr: SocketAddr) -> Result<std::net::TcpListener> {
    let listener = std::net::TcpListener::bind(addr)
        .with_context(|| format!("metrics endpoint {addr}: cannot listen"))?;
    listener.set_nonblocking(true)?;
    Ok(listener)
}

/// Serves `GET /metrics` on `listener` from `view` until the runtime ends.
pub fn spawn(listener: std::net::TcpListener, view: DaemonView) -> Result<()> {
    let listener = TcpListener::from_std(listener)?;
    if let Ok(addr) = listener.local_addr() {
        info!("metrics on http://{addr}/metrics");
    }
    tokio::spawn(async move {
        loop {
            match listener.accept().await {
                Ok((stream, peer)) => {
                    let view = view.clone();
                    tokio::spawn(async move {
                        if let Err(err) = serve_one(stream, &view).await {
                            debug!("metrics endpoint, client {peer}: {err:#}");
                        }
                    });
                }
                Err(err) => {
                    warn!("metrics endpoint: {err}");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    });
    Ok(())
}

async fn serve_one(mut stream: TcpStream, view: &DaemonView) -> Result<()> {
    let head = tokio::time::timeout(READ_TIMEOUT, read_head(&mut stream))
        .await
        .context("no request within 10 s")??;
    let response = match parse_request_line(&head) {
        Ok(("GET" | "HEAD", "/metrics")) => match metrics::encode(&view.snapshot()) {
            Ok(body) => Response::new(200, "OK", metrics::CONTENT_TYPE, body),
            Err(err) => Response::text(500, "Internal Server Error", format!("{err:#}\n")),
        },
        Ok(("GET" | "HEAD", "/")) => {
            Response::text(200, "OK", "nat64: metrics at /metrics\n".to_owned())
        }
        Ok(("GET" | "HEAD", _)) => {
            Response::text(404, "Not Found", "not found; try /metrics\n".into())
        }
        Ok(_) => Response::text(405, "Method Not Allowed", "only GET\n".into()),
        Err(why) => Response::text(400, "Bad Request", format!("{why}\n")),
    };
    let head_only = head.starts_with(b"HEAD ");
    stream.write_all(&response.bytes(head_only)).await?;
    stream.shutdown().await?;
    Ok(())
}

/// Reads until the blank line that ends the request head.
async fn read_head(stream: &mut TcpStream) -> Result<Vec<u8>> {
    let mut head = Vec::with_capacity(512);
    let mut buf = [0u8; 1024];
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Ok(head);
        }
        head.extend_from_slice(buf.get(..n).unwrap_or_default());
        if head.windows(4).any(|w| w == b"\r\n\r\n") || head.windows(2).any(|w| w == b"\n\n") {
            return Ok(head);
        }
        anyhow::ensure!(head.len() <= MAX_HEAD, "request head over {MAX_HEAD} bytes");
    }
}

/// The method and path of `GET /path HTTP/1.x`.
fn parse_request_line(head: &[u8]) -> Result<(&str, &str), &'static str> {
    let line = head.split(|&b| b == b'\n').next().ok_or("empty request")?;
    let line = std::str::from_utf8(line).map_err(|_| "request line is not UTF-8")?;
    let mut words = line.trim_end_matches('\r').split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (words.next(), words.next(), words.next(), words.next())
    else {
        return Err("malformed request line");
    };
    if !version.starts_with("HTTP/1.") {
        return Err("only HTTP/1.x");
    }
    // A scraper may add a query string (e.g. ?format=...); it selects nothing here.
    let path = target.split('?').next().unwrap_or(target);
    Ok((method, path))
}

struct Response {
    status: u16,
    reason: &'static str,
    content_type: &'static str,
    body: String,
}

impl Response {
    fn new(status: u16, reason: &'static str, content_type: &'static str, body: String) -> Self {
        Self {
            status,
            reason,
            content_type,
            body,
        }
    }

    fn text(status: u16, reason: &'static str, body: String) -> Self {
        Self::new(status, reason, "text/plain; charset=utf-8", body)
    }

    fn bytes(&self, head_only: bool) -> Vec<u8> {
        let mut out = format!(
            "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            self.status,
            self.reason,
            self.content_type,
            self.body.len()
        )
        .into_bytes();
        if !head_only {
            out.extend_from_slice(self.body.as_bytes());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_lines() {
        assert_eq!(
            parse_request_line(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"),
            Ok(("GET", "/metrics"))
        );
        assert_eq!(
            parse_request_line(b"GET /metrics?x=1 HTTP/1.0\n\n"),
            Ok(("GET", "/metrics"))
        );
        assert!(parse_request_line(b"GET /metrics\r\n\r\n").is_err());
        assert!(parse_request_line(b"GET / SPDY/3\r\n\r\n").is_err());
        assert!(parse_request_line(b"\xff\xfe / HTTP/1.1\r\n\r\n").is_err());
        assert!(parse_request_line(b"").is_err());
    }
}
