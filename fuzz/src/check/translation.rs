//! What must hold of whatever the userspace translator writes, whatever it was given:
//! packets that parse with consistent lengths and right checksums, of the family the verdict
//! says, to and from addresses that may be translated at all, no larger than the link.

use nat64::translate::{TranslatorConfig, Verdict};
use nat64_common::address_policy::{v4_translatable, v6_translatable};

use super::ip::{self, Ip, PROTO_ICMP, PROTO_ICMPV6};

/// Every rule `outputs` break, given the `input` and the `verdict` it got.
pub fn violations(
    cfg: &TranslatorConfig,
    input: &[u8],
    verdict: Verdict,
    outputs: &[&[u8]],
) -> Vec<String> {
    let mut found = Vec::new();
    let input_v6 = input.first().is_some_and(|b| b >> 4 == 6);
    let expected_count_ok = match verdict {
        Verdict::Translated => !outputs.is_empty(),
        Verdict::IcmpError(_) | Verdict::LocalReply => outputs.len() == 1,
        Verdict::Drop(_) => outputs.is_empty(),
    };
    if !expected_count_ok {
        found.push(format!(
            "verdict {verdict:?} with {} packets",
            outputs.len()
        ));
    }
    let parsed: Vec<Ip<'_>> = outputs
        .iter()
        .enumerate()
        .filter_map(|(i, p)| match ip::parse_output(p) {
            Ok(ip) => Some(ip),
            Err(e) => {
                found.push(format!("output {i} malformed: {e}"));
                None
            }
        })
        .collect();
    if parsed.len() != outputs.len() {
        return found;
    }
    let input_ip = ip::parse_input(input);
    for (i, (out, raw)) in parsed.iter().zip(outputs).enumerate() {
        let same_family = out.v6 == input_v6;
        let translated = matches!(verdict, Verdict::Translated);
        if translated == same_family {
            found.push(format!(
                "output {i}: IPv{} for an IPv{} input with verdict {verdict:?}",
                if out.v6 { 6 } else { 4 },
                if input_v6 { 6 } else { 4 }
            ));
        }
        // An answer (an echo reply) may be as large as what it answers; a translation must
        // fit the link it leaves by.
        let room = if translated { 0 } else { input.len() };
        found.extend(packet_rules(cfg, out, raw.len(), room).map(|e| format!("output {i}: {e}")));
        if !translated {
            found.extend(
                answer_rules(cfg, out, input_ip.as_ref(), verdict)
                    .map(|e| format!("output {i}: {e}")),
            );
        }
    }
    if matches!(verdict, Verdict::Translated) {
        match input_ip.as_ref() {
            Some(i) if !addresses_translatable(i) => {
                found.push("translated a packet whose own addresses are never translated".into())
            }
            Some(_) => {}
            None => found.push("translated a packet whose headers do not add up".into()),
        }
        if let Some(e) = transport_rules(input_ip.as_ref(), &parsed) {
            found.push(e);
        }
    }
    found
}

fn addresses_translatable(ip: &Ip<'_>) -> bool {
    if ip.v6 {
        let ok = |a: &[u8]| <[u8; 16]>::try_from(a).is_ok_and(|a| v6_translatable(&a));
        ok(ip.src) && ok(ip.dst)
    } else {
        let ok = |a: &[u8]| <[u8; 4]>::try_from(a).is_ok_and(v4_translatable);
        ok(ip.src) && ok(ip.dst)
    }
}

/// Rules for one packet of any kind the translator writes.
fn packet_rules<'a>(
    cfg: &'a TranslatorConfig,
    out: &'a Ip<'a>,
    len: usize,
    room: usize,
) -> impl Iterator<Item = String> + 'a {
    let mut found = Vec::new();
    if !out.header_checksum_ok {
        found.push("IPv4 header checksum wrong".to_string());
    }
    if out.hop_limit == 0 {
        found.push("hop limit 0".into());
    }
    if !addresses_translatable(out) {
        found.push("an address that is never translated".into());
    }
    let mtu = usize::from(if out.v6 { cfg.ipv6_mtu } else { cfg.ipv4_mtu }).max(room);
    if len > mtu {
        found.push(format!("{len} bytes on a link of MTU {mtu}"));
    }
    if let Some(f) = out.frag.filter(|f| f.is_fragment()) {
        if usize::from(f.offset) * 8 + out.upper.len() > 65_535 {
            found.push(format!(
                "fragment at offset {} ends past 65,535",
                usize::from(f.offset) * 8
            ));
        }
        if f.more && !out.upper.len().is_multiple_of(8) {
            found.push(format!("non-last fragment of {} bytes", out.upper.len()));
        }
    }
    let wrong_family_protocol = if out.v6 {
        out.proto == PROTO_ICMP
    } else {
        matches!(out.proto, PROTO_ICMPV6 | 0 | 43 | 44 | 60)
    };
    if wrong_family_protocol {
        found.push(format!(
            "protocol {} in IPv{}",
            out.proto,
            if out.v6 { 6 } else { 4 }
        ));
    }
    if !out.is_fragment() && matches!(out.proto, PROTO_ICMP | PROTO_ICMPV6) {
        if ip::transport_checksum_ok(out, out.upper) == Some(false) {
            found.push("ICMP checksum wrong".into());
        }
        if out.upper.len() < 8 {
            found.push(format!("ICMP message of {} bytes", out.upper.len()));
        }
    }
    found.into_iter()
}

/// An ICMP error or echo reply the translator sends itself: from its own address, back to
/// the sender.
fn answer_rules<'a>(
    cfg: &TranslatorConfig,
    out: &Ip<'a>,
    input: Option<&Ip<'_>>,
    verdict: Verdict,
) -> impl Iterator<Item = String> + 'a {
    let mut found = Vec::new();
    let own: Vec<u8> = if out.v6 {
        cfg.ipv6_addr.octets().to_vec()
    } else {
        cfg.ipv4_addr.octets().to_vec()
    };
    if out.src != own.as_slice() {
        found.push(format!("{verdict:?} not from the translator's own address"));
    }
    if input.is_some_and(|i| i.src != out.dst) {
        found.push(format!("{verdict:?} not to the sender"));
    }
    if !matches!(out.proto, PROTO_ICMP | PROTO_ICMPV6) {
        found.push(format!("{verdict:?} of protocol {}", out.proto));
    }
    found.into_iter()
}

/// TCP, UDP and ICMP checksums across the translation: right where the input's were right
/// (fragments the translator wrote are put back together first); UDP without a checksum only
/// where the input had none.
fn transport_rules(input: Option<&Ip<'_>>, outputs: &[Ip<'_>]) -> Option<String> {
    let input = input?;
    if input.is_fragment() {
        return None;
    }
    let input_ok = ip::transport_checksum_ok(input, input.upper);
    let input_zero_udp = ip::udp_checksum_zero(input, input.upper);
    let first = outputs.first()?;
    let whole = reassemble(outputs)?;
    if ip::udp_checksum_zero(first, &whole) {
        return (!input_zero_udp).then(|| "UDP checksum zero where the input had one".to_string());
    }
    let output_ok = ip::transport_checksum_ok(first, &whole)?;
    match (first.proto, input_ok, output_ok) {
        (_, _, true) => None,
        // ICMP is verified on the way in and rebuilt: always right on the way out.
        (PROTO_ICMP | PROTO_ICMPV6, _, false) => Some("ICMP checksum wrong".into()),
        (_, Some(true), false) => Some(format!(
            "protocol {} checksum wrong where the input's was right",
            first.proto
        )),
        _ => None,
    }
}

/// The upper-layer bytes of `outputs`: one whole packet, or fragments of one datagram that
/// cover it from the start to a last fragment.
fn reassemble(outputs: &[Ip<'_>]) -> Option<Vec<u8>> {
    if let [only] = outputs {
        return (!only.is_fragment()).then(|| only.upper.to_vec());
    }
    let mut parts: Vec<(usize, bool, &[u8])> = outputs
        .iter()
        .map(|o| {
            let f = o.frag?;
            Some((usize::from(f.offset) * 8, f.more, o.upper))
        })
        .collect::<Option<_>>()?;
    parts.sort_by_key(|(offset, _, _)| *offset);
    let mut whole = Vec::new();
    for (offset, _, data) in &parts {
        if *offset != whole.len() {
            return None;
        }
        whole.extend_from_slice(data);
    }
    let complete = parts.last().is_some_and(|(_, more, _)| !more);
    complete.then_some(whole)
}
