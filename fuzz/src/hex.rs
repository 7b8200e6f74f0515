//! Inputs printed and read back as hex, so a failure can be replayed from its report line.

pub fn encode(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Reads what [`encode`] wrote; spaces, colons and a leading `0x` are allowed.
pub fn decode(text: &str) -> Result<Vec<u8>, String> {
    let text = text.trim().trim_start_matches("0x");
    let digits: Vec<u8> = text
        .bytes()
        .filter(|b| !matches!(b, b' ' | b':' | b'\n' | b'\t'))
        .collect();
    if !digits.len().is_multiple_of(2) {
        return Err(format!("odd number of hex digits ({})", digits.len()));
    }
    digits
        .chunks(2)
        .map(|pair| {
            let s = std::str::from_utf8(pair).map_err(|_| "not hex".to_string())?;
            u8::from_str_radix(s, 16).map_err(|_| format!("\"{s}\" is not a hex byte"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let bytes = [0u8, 1, 0x7f, 0x80, 0xff];
        assert_eq!(encode(&bytes), "00017f80ff");
        assert_eq!(decode(&encode(&bytes)).unwrap(), bytes);
        assert_eq!(decode("0x45 00:1c").unwrap(), [0x45, 0x00, 0x1c]);
        assert!(decode("abc").is_err());
        assert!(decode("zz").is_err());
    }
}
