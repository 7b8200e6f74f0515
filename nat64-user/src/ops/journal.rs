//! Whether standard error is the journal: systemd sets `JOURNAL_STREAM` to the device and
//! inode of the stream it connected (systemd.exec(5)); when ours matches, log records go
//! to journald natively, with their level as priority and their fields as journal fields.

use std::os::unix::fs::MetadataExt as _;

/// True when standard error is connected to the journal.
pub fn stderr_is_journal() -> bool {
    let Some(stream) = std::env::var_os("JOURNAL_STREAM") else {
        return false;
    };
    let Some((dev, ino)) = stream.to_str().and_then(parse_stream) else {
        return false;
    };
    // fstat(2): the metadata of fd 2 through /proc (no unsafe needed).
    match std::fs::metadata("/proc/self/fd/2") {
        Ok(meta) => meta.dev() == dev && meta.ino() == ino,
        Err(_) => false,
    }
}

/// `JOURNAL_STREAM` is `<device>:<inode>`, both decimal.
fn parse_stream(value: &str) -> Option<(u64, u64)> {
    let (dev, ino) = value.split_once(':')?;
    Some((dev.parse().ok()?, ino.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn journal_stream_values() {
        assert_eq!(parse_stream("8:12345"), Some((8, 12345)));
        assert_eq!(parse_stream("8"), None);
        assert_eq!(parse_stream("x:1"), None);
    }
}
