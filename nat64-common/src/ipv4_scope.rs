//! Which IPv4 addresses are globally reachable, per the IANA IPv4 Special-Purpose Address
//! Registry (RFC 6890 and its updates). RFC 6052 §3.1: the well-known prefix `64:ff9b::/96`
//! must not be used to represent non-global IPv4 addresses.

/// (network, prefix length) of every registry block marked "not globally reachable", plus
/// multicast (not in that registry, but never a unicast destination a translator should reach)
/// and the deprecated 6to4 relay anycast block (RFC 7526).
const NON_GLOBAL: [([u8; 4], u8); 18] = [
    ([0, 0, 0, 0], 8),          // "this network" (RFC 791)
    ([10, 0, 0, 0], 8),         // private-use (RFC 1918)
    ([100, 64, 0, 0], 10),      // shared address space (RFC 6598)
    ([127, 0, 0, 0], 8),        // loopback (RFC 1122)
    ([169, 254, 0, 0], 16),     // link local (RFC 3927)
    ([172, 16, 0, 0], 12),      // private-use (RFC 1918)
    ([192, 0, 0, 0], 24),       // IETF protocol assignments (RFC 6890), exceptions below
    ([192, 0, 2, 0], 24),       // TEST-NET-1 (RFC 5737)
    ([192, 88, 99, 0], 24),     // deprecated 6to4 relay anycast (RFC 7526)
    ([192, 168, 0, 0], 16),     // private-use (RFC 1918)
    ([198, 18, 0, 0], 15),      // benchmarking (RFC 2544)
    ([198, 51, 100, 0], 24),    // TEST-NET-2 (RFC 5737)
    ([203, 0, 113, 0], 24),     // TEST-NET-3 (RFC 5737)
    ([224, 0, 0, 0], 4),        // multicast (RFC 5771)
    ([240, 0, 0, 0], 4),        // reserved (RFC 1112)
    ([255, 255, 255, 255], 32), // limited broadcast (RFC 919)
    ([192, 0, 0, 170], 32),     // NAT64/DNS64 discovery (RFC 7050), inside 192.0.0.0/24
    ([192, 0, 0, 171], 32),     // NAT64/DNS64 discovery (RFC 7050), inside 192.0.0.0/24
];

/// Blocks inside 192.0.0.0/24 that the registry marks globally reachable.
const GLOBAL_EXCEPTIONS: [[u8; 4]; 2] = [
    [192, 0, 0, 9],  // Port Control Protocol anycast (RFC 7723)
    [192, 0, 0, 10], // TURN anycast (RFC 8155)
];

/// `NON_GLOBAL` as (network, mask) words, computed at compile time.
// Indexing in a const initialiser is checked by the compiler: it cannot panic at run time.
#[allow(clippy::indexing_slicing)]
const NON_GLOBAL_MASKED: [(u32, u32); NON_GLOBAL.len()] = {
    let mut out = [(0u32, 0u32); NON_GLOBAL.len()];
    let mut i = 0;
    while i < NON_GLOBAL.len() {
        let (net, len) = NON_GLOBAL[i];
        let mask = if len == 0 {
            0
        } else {
            u32::MAX << (32 - len as u32)
        };
        out[i] = (u32::from_be_bytes(net) & mask, mask);
        i += 1;
    }
    out
};

/// Whether `v4` is a globally reachable unicast address.
#[inline]
pub fn is_global(v4: [u8; 4]) -> bool {
    let addr = u32::from_be_bytes(v4);
    for exception in GLOBAL_EXCEPTIONS {
        if addr == u32::from_be_bytes(exception) {
            return true;
        }
    }
    for (net, mask) in NON_GLOBAL_MASKED {
        if addr & mask == net {
            return false;
        }
    }
    true
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn registry_blocks() {
        let non_global: &[[u8; 4]] = &[
            [0, 0, 0, 0],
            [0, 255, 1, 2],
            [10, 1, 2, 3],
            [100, 64, 0, 1],
            [100, 127, 255, 255],
            [127, 0, 0, 1],
            [169, 254, 1, 1],
            [172, 16, 0, 1],
            [172, 31, 255, 255],
            [192, 0, 0, 1],
            [192, 0, 0, 8],
            [192, 0, 0, 170],
            [192, 0, 0, 171],
            [192, 0, 2, 33],
            [192, 88, 99, 1],
            [192, 168, 1, 1],
            [198, 18, 0, 1],
            [198, 19, 255, 255],
            [198, 51, 100, 2],
            [203, 0, 113, 8],
            [224, 0, 0, 1],
            [239, 255, 255, 255],
            [240, 0, 0, 1],
            [255, 255, 255, 255],
        ];
        for a in non_global {
            assert!(!is_global(*a), "{a:?} is not global");
        }
        let global: &[[u8; 4]] = &[
            [1, 1, 1, 1],
            [8, 8, 8, 8],
            [100, 63, 255, 255],
            [100, 128, 0, 0],
            [172, 15, 255, 255],
            [172, 32, 0, 0],
            [192, 0, 0, 9],
            [192, 0, 0, 10],
            [192, 0, 1, 1],
            [192, 31, 196, 1], // AS112-v4 (RFC 7535)
            [192, 52, 193, 1], // AMT (RFC 7450)
            [192, 175, 48, 1], // direct delegation AS112 (RFC 7534)
            [198, 17, 255, 255],
            [198, 20, 0, 0],
            [223, 255, 255, 255],
        ];
        for a in global {
            assert!(is_global(*a), "{a:?} is global");
        }
    }
}
