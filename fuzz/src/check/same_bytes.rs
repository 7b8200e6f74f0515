//! Whether the kernel wrote the packet userspace writes: byte for byte, except the IPv4
//! Identification and the header checksum over it when DF is clear (the kernel draws the
//! Identification at random, userspace counts), whose checksum is then checked on its own.

use crate::inet;

pub fn differences(kernel: &[u8], user: &[u8]) -> Option<String> {
    if kernel.len() != user.len() {
        return Some(format!(
            "length {} where userspace writes {}",
            kernel.len(),
            user.len()
        ));
    }
    let ipv4_without_df =
        kernel.first().is_some_and(|b| b >> 4 == 4) && kernel.get(6).is_some_and(|f| f & 0x40 == 0);
    if ipv4_without_df && !inet::verifies(kernel.get(..20).unwrap_or(&[]), 0) {
        return Some("IPv4 header checksum wrong".into());
    }
    let ignored: &[usize] = if ipv4_without_df {
        &[4, 5, 10, 11]
    } else {
        &[]
    };
    let diffs: Vec<String> = kernel
        .iter()
        .zip(user)
        .enumerate()
        .filter(|(i, (k, u))| k != u && !ignored.contains(i))
        .take(6)
        .map(|(i, (k, u))| format!("@{i}: {k:02x} where userspace writes {u:02x}"))
        .collect();
    (!diffs.is_empty()).then(|| diffs.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ipv4(id: u16, flags: u8) -> Vec<u8> {
        let mut h = vec![
            0x45, 0, 0, 20, 0, 0, flags, 0, 64, 17, 0, 0, 192, 0, 2, 1, 203, 0, 113, 5,
        ];
        h[4..6].copy_from_slice(&id.to_be_bytes());
        let c = inet::checksum(&h, 0);
        h[10..12].copy_from_slice(&c.to_be_bytes());
        h
    }

    #[test]
    fn identification_differs_only_without_df() {
        assert_eq!(differences(&ipv4(1, 0), &ipv4(2, 0)), None);
        assert!(differences(&ipv4(1, 0x40), &ipv4(2, 0x40)).is_some());
        let mut broken = ipv4(1, 0);
        broken[10] ^= 1;
        assert!(differences(&broken, &ipv4(2, 0)).is_some());
        assert!(differences(&ipv4(1, 0), &ipv4(1, 0)[..19]).is_some());
    }
}
