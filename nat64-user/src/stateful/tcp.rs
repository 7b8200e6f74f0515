//! The TCP session state machine of RFC 6146 §3.5.2.2: which packets open, establish and
//! close a session, and so how long it lives.

use super::config::Timeouts;
use std::time::Duration;

/// RFC 6146 §3.5.2's states (CLOSED is the absence of a session).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TcpState {
    V6Init,
    V4Init,
    Established,
    V6FinRcv,
    V4FinRcv,
    V6FinV4FinRcv,
    Trans,
}

/// Which side a packet came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    V6,
    V4,
}

/// The flags that move the machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Flags {
    pub syn: bool,
    pub fin: bool,
    pub rst: bool,
}

impl Flags {
    pub fn from_byte(b: u8) -> Flags {
        use nat64_common::wire::tcp::flags;
        Flags {
            fin: b & flags::FIN != 0,
            syn: b & flags::SYN != 0,
            rst: b & flags::RST != 0,
        }
    }
}

impl TcpState {
    /// The state a new session starts in.
    pub fn opened_by(side: Side) -> TcpState {
        match side {
            Side::V6 => TcpState::V6Init,
            Side::V4 => TcpState::V4Init,
        }
    }

    /// The state after a packet from `side` with `flags`.
    pub fn next(self, side: Side, flags: Flags) -> TcpState {
        use TcpState::*;
        match (self, side) {
            (V6Init, Side::V4) if flags.syn => Established,
            (V4Init, Side::V6) if flags.syn => Established,
            (Established, _) if flags.rst => Trans,
            (Established, Side::V6) if flags.fin => V6FinRcv,
            (Established, Side::V4) if flags.fin => V4FinRcv,
            (V6FinRcv, Side::V4) if flags.fin => V6FinV4FinRcv,
            (V4FinRcv, Side::V6) if flags.fin => V6FinV4FinRcv,
            (Trans, _) if !flags.rst => Established,
            (state, _) => state,
        }
    }

    /// How long the session lives after a packet leaves it in this state.
    pub fn lifetime(self, t: &Timeouts) -> Duration {
        match self {
            TcpState::V4Init => t.tcp_incoming_syn,
            TcpState::Established | TcpState::V6FinRcv | TcpState::V4FinRcv => t.tcp_established,
            TcpState::V6Init | TcpState::V6FinV4FinRcv | TcpState::Trans => t.tcp_transitory,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SYN: Flags = Flags {
        syn: true,
        fin: false,
        rst: false,
    };
    const FIN: Flags = Flags {
        syn: false,
        fin: true,
        rst: false,
    };
    const RST: Flags = Flags {
        syn: false,
        fin: false,
        rst: true,
    };
    const ACK: Flags = Flags {
        syn: false,
        fin: false,
        rst: false,
    };

    #[test]
    fn a_connection_opens_closes_and_resets_as_rfc_6146_says() {
        let s = TcpState::opened_by(Side::V6);
        assert_eq!(s.next(Side::V6, ACK), TcpState::V6Init);
        let s = s.next(Side::V4, SYN);
        assert_eq!(s, TcpState::Established);
        let s = s.next(Side::V4, FIN);
        assert_eq!(s, TcpState::V4FinRcv);
        assert_eq!(s.next(Side::V4, ACK), TcpState::V4FinRcv);
        let s = s.next(Side::V6, FIN);
        assert_eq!(s, TcpState::V6FinV4FinRcv);
        let t = Timeouts::default();
        assert_eq!(s.lifetime(&t), t.tcp_transitory);
        let e = TcpState::Established.next(Side::V6, RST);
        assert_eq!(e, TcpState::Trans);
        assert_eq!(e.next(Side::V4, ACK), TcpState::Established);
    }

    #[test]
    fn a_simultaneous_open_establishes() {
        let s = TcpState::opened_by(Side::V4);
        assert_eq!(s.lifetime(&Timeouts::default()), Duration::from_secs(6));
        assert_eq!(s.next(Side::V6, SYN), TcpState::Established);
    }
}
