//! `nat64 run` started by systemd logs straight to the journal: when standard error is the
//! stream `JOURNAL_STREAM` names, records go to journald's socket in its native protocol,
//! with the level as PRIORITY and fields of their own. A fake journald in a mount namespace
//! of the test's own (`unshare --mount --net`) receives them.

use std::process::Command;

use nat64_tests::{binary, privileges::require_root, tempdir::TempDir, tools};

/// Runs in the new mount and network namespaces: a journald socket on a private /run, the
/// daemon with its stderr on a socket named by JOURNAL_STREAM, SIGTERM once it serves;
/// prints what journald received, then `--- stderr ---` and what reached stderr.
const FAKE_JOURNALD: &str = r#"
import os, signal, socket, subprocess, sys, time
binary, data = sys.argv[1], sys.argv[2]
os.system("mount -t tmpfs tmpfs /run && mkdir -p /run/systemd/journal && ip link set lo up")
journal = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
journal.bind("/run/systemd/journal/socket")
journal.settimeout(0.2)
ours, theirs = socket.socketpair()
st = os.fstat(theirs.fileno())
env = dict(os.environ, JOURNAL_STREAM="%d:%d" % (st.st_dev, st.st_ino), INVOCATION_ID="0123456789abcdef")
daemon = subprocess.Popen([binary, "run", "--prefix", "2001:db8:64::/96", "--datapath", "tun",
                           "--data-dir", data], stderr=theirs.fileno(), stdout=subprocess.DEVNULL, env=env)
theirs.close()
def fields(datagram):
    # journald's native protocol: KEY=value lines, or KEY, a little-endian u64 length and
    # that many bytes for values that may hold newlines.
    out, i = [], 0
    while i < len(datagram):
        end = datagram.index(b"\n", i)
        line = datagram[i:end]
        if b"=" in line:
            out.append(line.decode("utf-8", "replace"))
            i = end + 1
        else:
            size = int.from_bytes(datagram[end + 1:end + 9], "little")
            value = datagram[end + 9:end + 9 + size]
            out.append(line.decode() + "=" + value.decode("utf-8", "replace"))
            i = end + 9 + size + 1
    return "\n".join(out)
records, deadline, stopped = [], time.time() + 20, False
while time.time() < deadline:
    try:
        records.append(fields(journal.recv(65536)))
    except socket.timeout:
        pass
    if not stopped and any("TUN worker(s)" in r for r in records):
        daemon.send_signal(signal.SIGTERM)
        stopped = True
    if daemon.poll() is not None:
        break
daemon.wait(timeout=10)
while True:
    try:
        records.append(fields(journal.recv(65536)))
    except socket.timeout:
        break
ours.setblocking(False)
try:
    stderr = ours.recv(65536).decode("utf-8", "replace")
except BlockingIOError:
    stderr = ""
print("\n=====\n".join(records))
print("--- stderr ---")
print(stderr)
"#;

#[test]
fn started_by_systemd_the_daemon_logs_to_the_journal_with_fields() {
    let Some(_root) = require_root() else {
        return;
    };
    let Some(unshare) = tools::require("unshare", None) else {
        return;
    };
    let data = TempDir::new("journal").expect("data-dir");
    let out = Command::new(unshare)
        .args([
            "--mount",
            "--propagation",
            "private",
            "--net",
            "python3",
            "-c",
            FAKE_JOURNALD,
        ])
        .arg(binary::nat64())
        .arg(data.path())
        .output()
        .expect("unshare runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (journal, stderr) = text.split_once("--- stderr ---").expect("both parts");
    let serving = journal
        .split("=====")
        .find(|r| r.contains("TUN worker(s)"))
        .unwrap_or_else(|| panic!("the datapath line never reached the journal:\n{text}"));
    assert!(serving.contains("PRIORITY=6"), "{serving}");
    assert!(serving.contains("SYSLOG_IDENTIFIER=nat64"), "{serving}");
    assert!(serving.contains("CODE_FILE="), "{serving}");
    assert!(journal.contains("SIGTERM: stopping"), "{journal}");
    // A warning keeps its priority.
    assert!(
        journal
            .split("=====")
            .any(|r| r.contains("PRIORITY=4") && r.contains("masquerade")),
        "no warning at priority 4:\n{journal}"
    );
    // Nothing is written twice: standard error stays quiet.
    assert!(
        !stderr.contains("TUN worker(s)"),
        "the log also went to stderr:\n{stderr}"
    );
}
