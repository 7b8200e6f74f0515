//! The daemon's read-only control socket, `@nat64/<tun-device>`: `nat64 stats`, `status`
//! and `mappings` ask it, the metrics endpoint reads the same snapshot in-process.
//!
//! An abstract Unix socket belongs to the network namespace (as the device does), needs no
//! directory, survives `-r` chroot and leaves nothing behind. A client writes one request
//! line — `snapshot` or `mappings` — and reads JSON until the daemon closes; a client that
//! writes nothing (an earlier version's `nat64 stats`) gets the `nat64 stats` text.

use std::{
    io::{self, Read as _, Write as _},
    net::Shutdown,
    os::linux::net::SocketAddrExt,
    os::unix::net::{SocketAddr, UnixListener, UnixStream},
    sync::Arc,
    time::Duration,
};

use anyhow::{bail, Context as _, Result};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tracing::{debug, warn};

use super::{
    snapshot::{MappingEntry, MappingList, Snapshot, SCHEMA},
    stats_text,
};

/// The longest request line a client may send.
const MAX_REQUEST: usize = 64;
/// How long a client waits for the answer.
const TIMEOUT: Duration = Duration::from_secs(5);
/// How long the daemon waits for a request line: clients write it at once.
const REQUEST_TIMEOUT: Duration = Duration::from_millis(500);

/// The abstract name of a device's control socket.
pub fn socket_address(device: &str) -> io::Result<SocketAddr> {
    SocketAddr::from_abstract_name(socket_name(device).as_bytes())
}

/// `nat64/<device>`: the socket's name, without the leading NUL of an abstract address.
pub fn socket_name(device: &str) -> String {
    format!("nat64/{device}")
}

/// The running daemon as its readers see it. The daemon implements it over its own state
/// (`gateway::observe`); this module only serves what it answers.
pub trait DaemonState: Send + Sync {
    /// Counters, datapath, pool and recent activity.
    fn snapshot(&self) -> Snapshot;
    /// Every dynamic mapping, most recently used first.
    fn mappings(&self) -> Vec<MappingEntry>;
    /// Stateful NAT64's tables; `None` when it is off.
    fn stateful(&self) -> Option<StatefulTables>;
}

/// Stateful NAT64's tables as `nat64 bib`, `sessions` and `blocks` list them.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct StatefulTables {
    pub schema: u32,
    pub device: String,
    pub bib: Vec<crate::stateful::BindingInfo>,
    pub sessions: Vec<crate::stateful::SessionInfo>,
    pub blocks: Vec<crate::stateful::BlockInfo>,
}

/// What the daemon serves its readers from.
#[derive(Clone)]
pub struct DaemonView {
    pub device: String,
    pub state: Arc<dyn DaemonState>,
}

impl DaemonView {
    pub fn snapshot(&self) -> Snapshot {
        self.state.snapshot()
    }

    /// The answer to one request line.
    fn answer(&self, request: &str) -> Result<String, String> {
        match request.trim() {
            "" => Ok(stats_text::render(&self.snapshot())),
            "snapshot" => serde_json::to_string(&self.snapshot()).map_err(|e| e.to_string()),
            "mappings" => serde_json::to_string(&MappingList {
                schema: SCHEMA,
                device: self.device.clone(),
                mappings: self.state.mappings(),
            })
            .map_err(|e| e.to_string()),
            "stateful" => match self.state.stateful() {
                Some(mut tables) => {
                    tables.schema = SCHEMA;
                    tables.device = self.device.clone();
                    serde_json::to_string(&tables).map_err(|e| e.to_string())
                }
                None => Err("stateful NAT64 is off (no [stateful] in the configuration)".into()),
            },
            other => Err(format!("unknown request {other:?}")),
        }
    }
}

/// Serves on `@nat64/<device>`, which the daemon claimed at start (a second daemon on the
/// same device finds it taken and refuses to start: see `gateway::instance`).
pub fn spawn_server(view: DaemonView, listener: UnixListener) {
    let device = view.device.clone();
    let listener = listener
        .set_nonblocking(true)
        .and_then(|()| tokio::net::UnixListener::from_std(listener));
    let listener = match listener {
        Ok(listener) => listener,
        Err(err) => {
            warn!(
                "no stats socket @nat64/{device} (`nat64 stats` cannot reach this daemon): {err}"
            );
            return;
        }
    };
    tokio::spawn(async move {
        loop {
            match listener.accept().await {
                Ok((stream, _)) => {
                    let view = view.clone();
                    tokio::spawn(async move {
                        if let Err(err) = serve_one(stream, &view).await {
                            debug!("stats socket: {err}");
                        }
                    });
                }
                Err(err) => {
                    warn!("stats socket: {err}");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    });
}

async fn serve_one(mut stream: tokio::net::UnixStream, view: &DaemonView) -> std::io::Result<()> {
    let mut request = Vec::with_capacity(MAX_REQUEST);
    let mut buf = [0u8; MAX_REQUEST];
    // A request ends at a newline or when the client shuts its side down.
    let read = tokio::time::timeout(REQUEST_TIMEOUT, async {
        loop {
            let n = stream.read(&mut buf).await?;
            request.extend_from_slice(buf.get(..n).unwrap_or_default());
            if n == 0 || request.contains(&b'\n') || request.len() >= MAX_REQUEST {
                return Ok::<_, std::io::Error>(());
            }
        }
    })
    .await;
    let answer = match read {
        Ok(Ok(())) => match std::str::from_utf8(&request) {
            Ok(text) => view.answer(text.lines().next().unwrap_or("")),
            Err(_) => Err("the request is not UTF-8".to_owned()),
        },
        Ok(Err(err)) => return Err(err),
        // A client of an earlier version sends nothing and waits for the text.
        Err(_) if request.is_empty() => view.answer(""),
        Err(_) => Err("no complete request in time".to_owned()),
    };
    let text = answer.unwrap_or_else(|err| format!("error: {err}\n"));
    stream.write_all(text.as_bytes()).await?;
    stream.shutdown().await
}

/// Sends `request` to the daemon serving `device` in this network namespace; its answer.
pub fn ask(device: &str, request: &str) -> std::io::Result<String> {
    let mut stream = UnixStream::connect_addr(&socket_address(device)?)?;
    stream.set_read_timeout(Some(TIMEOUT))?;
    stream.set_write_timeout(Some(TIMEOUT))?;
    stream.write_all(format!("{request}\n").as_bytes())?;
    stream.shutdown(Shutdown::Write)?;
    let mut text = String::new();
    stream.read_to_string(&mut text)?;
    Ok(text)
}

/// The daemon's snapshot.
pub fn ask_snapshot(device: &str) -> Result<Snapshot> {
    let text = ask(device, "snapshot")?;
    decode(&text)
}

/// The daemon's mappings.
pub fn ask_mappings(device: &str) -> Result<MappingList> {
    let text = ask(device, "mappings")?;
    decode(&text)
}

/// The daemon's stateful NAT64 tables.
pub fn ask_stateful(device: &str) -> Result<StatefulTables> {
    let text = ask(device, "stateful")?;
    decode(&text)
}

fn decode<T: serde::de::DeserializeOwned>(text: &str) -> Result<T> {
    if let Some(err) = text.strip_prefix("error: ") {
        bail!("the daemon refused the request: {}", err.trim());
    }
    serde_json::from_str(text).context(
        "the daemon's answer is not this version's JSON (a daemon of another nat64 version?)",
    )
}
