//! IPv4 → IPv6 fragmentation: an IPv4 packet (or fragment) without DF that is too big for the
//! IPv6 side once translated leaves as several IPv6 fragments (RFC 7915 §4 and §4.1).

use nat64_common::wire::{
    fragment::{self, Fragment},
    ipv6,
};

use super::wire;
use super::Output;

/// IPv6 header plus Fragment header.
const HEADERS: usize = ipv6::LEN + fragment::LEN;

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

    let Some(original) = template.get(ipv6::LEN..).and_then(Fragment::from_slice) else {
        out.scratch = payload;
        return;
    };
    let (base_offset, base_more) = (original.offset(), original.more());
    // Every fragment but the last carries a multiple of 8 bytes.
    let max_data = (limit.saturating_sub(HEADERS) / 8 * 8).max(8);
    let count = payload.len().div_ceil(max_data);
    for (i, chunk) in payload.chunks(max_data).enumerate() {
        let offset = base_offset.wrapping_add((i * max_data / 8) as u16);
        let more = i + 1 < count || base_more;
        let at = out.buf.len();
        out.buf.extend_from_slice(&template);
        let header = out.buf.get_mut(at..).unwrap_or(&mut []);
        wire::set_u16(
            header,
            ipv6::field::PAYLOAD_LEN,
            (fragment::LEN + chunk.len()) as u16,
        );
        let mut frag = original;
        frag.set_offset_more(offset, more);
        if let Some(f) = header.get_mut(ipv6::LEN..HEADERS) {
            f.copy_from_slice(&frag.0);
        }
        out.buf.extend_from_slice(chunk);
        out.end_packet();
    }
    out.scratch = payload;
}
