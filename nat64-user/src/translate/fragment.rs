//! IPv4 → IPv6 fragmentation: an IPv4 packet (or fragment) without DF that is too big for the
//! IPv6 side once translated leaves as several IPv6 fragments (RFC 7915 §4 and §4.1).

use super::wire;
use super::Output;

/// IPv6 header plus Fragment header.
const HEADERS: usize = 48;

/// Splits the packet being written in `out` (IPv6 header, Fragment header, payload; not yet
/// ended) into fragments of at most `limit` bytes, ending each. The Fragment header already
/// carries the original offset, More Fragments flag and identification.
pub(crate) fn split_v6(out: &mut Output, limit: usize) {
    let start = out.packet_start();
    let Some(template) = out
        .buf
        .get(start..)
        .and_then(|p| wire::array_at::<HEADERS>(p, 0))
    else {
        out.abandon_packet();
        return;
    };
    let mut payload = std::mem::take(&mut out.scratch);
    payload.clear();
    payload.extend_from_slice(out.buf.get(start + HEADERS..).unwrap_or(&[]));
    out.buf.truncate(start);

    let field = u16::from_be_bytes([template[42], template[43]]);
    let base_offset = field >> 3;
    let base_more = field & 1 != 0;
    // Every fragment but the last carries a multiple of 8 bytes.
    let max_data = (limit.saturating_sub(HEADERS) / 8 * 8).max(8);
    let count = payload.len().div_ceil(max_data);
    for (i, chunk) in payload.chunks(max_data).enumerate() {
        let offset = base_offset.wrapping_add((i * max_data / 8) as u16);
        let more = i + 1 < count || base_more;
        let at = out.buf.len();
        out.buf.extend_from_slice(&template);
        let header = out.buf.get_mut(at..).unwrap_or(&mut []);
        wire::set_u16(header, 4, (8 + chunk.len()) as u16);
        wire::set_u16(header, 42, (offset << 3) | u16::from(more));
        out.buf.extend_from_slice(chunk);
        out.end_packet();
    }
    out.scratch = payload;
}
