//! Frame header codec (RFC 6455 section 5.2). Parsing is incremental: `Ok(None)`
//! means "not enough bytes yet", never an error.

use super::ProtocolError;

/// Longest header a client can send: 2 + 8 (length) + 4 (mask).
pub const MAX_HEADER_LEN: usize = 14;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opcode {
    Continuation,
    Text,
    Binary,
    Close,
    Ping,
    Pong,
}

impl Opcode {
    pub fn from_u8(op: u8) -> Result<Opcode, ProtocolError> {
        Ok(match op {
            0x0 => Opcode::Continuation,
            0x1 => Opcode::Text,
            0x2 => Opcode::Binary,
            0x8 => Opcode::Close,
            0x9 => Opcode::Ping,
            0xA => Opcode::Pong,
            other => return Err(ProtocolError::ReservedOpcode(other)),
        })
    }

    pub fn as_u8(self) -> u8 {
        match self {
            Opcode::Continuation => 0x0,
            Opcode::Text => 0x1,
            Opcode::Binary => 0x2,
            Opcode::Close => 0x8,
            Opcode::Ping => 0x9,
            Opcode::Pong => 0xA,
        }
    }

    pub fn is_control(self) -> bool {
        matches!(self, Opcode::Close | Opcode::Ping | Opcode::Pong)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    pub fin: bool,
    pub rsv1: bool,
    pub opcode: Opcode,
    pub mask: Option<[u8; 4]>,
    pub payload_len: u64,
    /// Bytes the header took on the wire.
    pub header_len: usize,
}

impl FrameHeader {
    /// Parses a header from the start of `buf`. `allow_rsv1` is set when
    /// permessage-deflate was negotiated.
    pub fn parse(buf: &[u8], allow_rsv1: bool) -> Result<Option<FrameHeader>, ProtocolError> {
        if buf.len() < 2 {
            return Ok(None);
        }
        let b0 = buf[0];
        let b1 = buf[1];
        let fin = b0 & 0x80 != 0;
        let rsv1 = b0 & 0x40 != 0;
        let unexpected_rsv = (b0 >> 4) & if allow_rsv1 { 0b011 } else { 0b111 };
        if unexpected_rsv != 0 {
            return Err(ProtocolError::ReservedBitsSet(unexpected_rsv));
        }
        let opcode = Opcode::from_u8(b0 & 0x0F)?;
        let masked = b1 & 0x80 != 0;
        let len7 = (b1 & 0x7F) as u64;
        if opcode.is_control() {
            if !fin {
                return Err(ProtocolError::FragmentedControlFrame);
            }
            if len7 > 125 {
                return Err(ProtocolError::ControlFrameTooLong(len7 as u8));
            }
            if rsv1 {
                return Err(ProtocolError::ReservedBitsSet(4));
            }
        }
        let (payload_len, mut pos) = match len7 {
            126 => {
                if buf.len() < 4 {
                    return Ok(None);
                }
                (u16::from_be_bytes([buf[2], buf[3]]) as u64, 4)
            }
            127 => {
                if buf.len() < 10 {
                    return Ok(None);
                }
                let len = u64::from_be_bytes(buf[2..10].try_into().unwrap());
                // ws's limit (a JS number holds lengths up to 2^53 - 1 exactly), which
                // also refuses RFC 6455's forbidden most significant bit.
                if len > MAX_PAYLOAD_LENGTH {
                    return Err(ProtocolError::InvalidLength);
                }
                (len, 10)
            }
            n => (n, 2),
        };
        let mask = if masked {
            if buf.len() < pos + 4 {
                return Ok(None);
            }
            let m = [buf[pos], buf[pos + 1], buf[pos + 2], buf[pos + 3]];
            pos += 4;
            Some(m)
        } else {
            None
        };
        Ok(Some(FrameHeader { fin, rsv1, opcode, mask, payload_len, header_len: pos }))
    }
}

/// The longest payload a frame may announce: 2^53 - 1, as in ws.
pub const MAX_PAYLOAD_LENGTH: u64 = (1 << 53) - 1;

/// Writes an unmasked (server) frame header into `out`, returning its length.
#[inline]
pub fn encode_header(out: &mut [u8; 10], fin: bool, rsv1: bool, opcode: Opcode, len: u64) -> usize {
    put_head(out, fin, rsv1, opcode, len)
}

/// Writes any frame head, masked (a client's) or not, into `out`, returning
/// its length: at most `MAX_HEADER_LEN` (fastwebsockets' `fmt_head`).
#[inline]
pub fn encode_head(
    out: &mut [u8; MAX_HEADER_LEN],
    fin: bool,
    rsv1: bool,
    opcode: Opcode,
    len: u64,
    mask: Option<[u8; 4]>,
) -> usize {
    let n = put_head(out, fin, rsv1, opcode, len);
    match mask {
        None => n,
        Some(key) => {
            out[1] |= 0x80;
            out[n..n + 4].copy_from_slice(&key);
            n + 4
        }
    }
}

/// The head without a mask: `out` has at least 10 bytes.
#[inline]
fn put_head(out: &mut [u8], fin: bool, rsv1: bool, opcode: Opcode, len: u64) -> usize {
    out[0] = (if fin { 0x80 } else { 0 }) | (if rsv1 { 0x40 } else { 0 }) | opcode.as_u8();
    if len < 126 {
        out[1] = len as u8;
        2
    } else if len <= u16::MAX as u64 {
        out[1] = 126;
        out[2..4].copy_from_slice(&(len as u16).to_be_bytes());
        4
    } else {
        out[1] = 127;
        out[2..10].copy_from_slice(&len.to_be_bytes());
        10
    }
}

/// Appends a whole frame to `out`: the head, then the payload, masked with
/// `mask` when given (the client's write path; the caller's bytes stay as they are).
pub fn write_frame(
    out: &mut Vec<u8>,
    fin: bool,
    rsv1: bool,
    opcode: Opcode,
    mask: Option<[u8; 4]>,
    payload: &[u8],
) {
    let mut head = [0u8; MAX_HEADER_LEN];
    let n = encode_head(&mut head, fin, rsv1, opcode, payload.len() as u64, mask);
    out.reserve(n + payload.len());
    out.extend_from_slice(&head[..n]);
    let start = out.len();
    out.extend_from_slice(payload);
    if let Some(key) = mask {
        super::mask::apply_mask(&mut out[start..], key, 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn incremental_parse() {
        // masked text frame, 300 bytes (16-bit length)
        let bytes = [0x81, 0xFE, 0x01, 0x2C, 1, 2, 3, 4];
        for i in 0..bytes.len() {
            assert_eq!(FrameHeader::parse(&bytes[..i], false), Ok(None), "{i}");
        }
        let h = FrameHeader::parse(&bytes, false).unwrap().unwrap();
        assert!(h.fin);
        assert_eq!(h.opcode, Opcode::Text);
        assert_eq!(h.payload_len, 300);
        assert_eq!(h.mask, Some([1, 2, 3, 4]));
        assert_eq!(h.header_len, 8);
    }

    #[test]
    fn rejects() {
        assert_eq!(FrameHeader::parse(&[0xC1, 0x80], false), Err(ProtocolError::ReservedBitsSet(4)));
        assert!(FrameHeader::parse(&[0xC1, 0x80, 0, 0, 0, 0], true).unwrap().is_some());
        assert_eq!(FrameHeader::parse(&[0xA1, 0x80], true), Err(ProtocolError::ReservedBitsSet(2)));
        assert_eq!(FrameHeader::parse(&[0x83, 0x80], false), Err(ProtocolError::ReservedOpcode(3)));
        assert_eq!(FrameHeader::parse(&[0x8B, 0x80], false), Err(ProtocolError::ReservedOpcode(0xB)));
        assert_eq!(FrameHeader::parse(&[0x09, 0x80], false), Err(ProtocolError::FragmentedControlFrame));
        assert_eq!(FrameHeader::parse(&[0x89, 0xFE], false), Err(ProtocolError::ControlFrameTooLong(126)));
        let mut huge = [0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(FrameHeader::parse(&huge, false), Err(ProtocolError::InvalidLength));
        huge[2] = 0x7F; // 2^63 - 1: over 2^53 - 1 all the same (ws's limit)
        assert_eq!(FrameHeader::parse(&huge, false), Err(ProtocolError::InvalidLength));
        let largest = MAX_PAYLOAD_LENGTH.to_be_bytes();
        let mut at_limit = [0x82, 0xFF, 0, 0, 0, 0, 0, 0, 0, 0];
        at_limit[2..].copy_from_slice(&largest);
        assert_eq!(FrameHeader::parse(&at_limit, false), Ok(None)); // waits for the mask
    }

    #[test]
    fn encode_round_trip() {
        for len in [0u64, 125, 126, 65535, 65536, 1 << 40] {
            let mut out = [0u8; 10];
            let n = encode_header(&mut out, true, false, Opcode::Binary, len);
            let h = FrameHeader::parse(&out[..n], false).unwrap().unwrap();
            assert_eq!(h.payload_len, len);
            assert_eq!(h.header_len, n);
            assert_eq!(h.mask, None);
        }
    }

    /// Every length class (7-bit, 16-bit, 64-bit, at their edges), masked or not.
    const LENGTHS: [u64; 9] = [0, 1, 125, 126, 127, 65535, 65536, 1 << 32, MAX_PAYLOAD_LENGTH];

    #[test]
    fn masked_head_at_every_length_class() {
        let key = [0x37, 0xFA, 0x21, 0x3D];
        for len in LENGTHS {
            let mut out = [0u8; MAX_HEADER_LEN];
            let n = encode_head(&mut out, true, false, Opcode::Binary, len, Some(key));
            let expected = 4 + if len < 126 {
                2
            } else if len < 65536 {
                4
            } else {
                10
            };
            assert_eq!(n, expected, "len {len}");
            assert_eq!(out[1] & 0x80, 0x80, "MASK bit, len {len}");
            assert_eq!(out[n - 4..n], key, "the key follows the length");
            let h = FrameHeader::parse(&out[..n], false).unwrap().unwrap();
            assert_eq!((h.payload_len, h.header_len, h.mask), (len, n, Some(key)), "len {len}");
            // Without a mask: the server's head, byte for byte.
            let mut plain = [0u8; MAX_HEADER_LEN];
            let m = encode_head(&mut plain, false, true, Opcode::Text, len, None);
            let mut server = [0u8; 10];
            assert_eq!(encode_header(&mut server, false, true, Opcode::Text, len), m);
            assert_eq!(plain[..m], server[..m]);
            assert_eq!(m, n - 4);
        }
        // The longest head fills the 14 bytes.
        let mut out = [0u8; MAX_HEADER_LEN];
        assert_eq!(encode_head(&mut out, true, false, Opcode::Binary, 1 << 40, Some(key)), MAX_HEADER_LEN);
    }

    #[test]
    fn write_frame_masks_a_copy() {
        let payload: Vec<u8> = (0..300u32).map(|i| i as u8).collect();
        let key = [9, 8, 7, 6];
        let mut out = Vec::new();
        write_frame(&mut out, true, false, Opcode::Binary, Some(key), &payload);
        let h = FrameHeader::parse(&out, false).unwrap().unwrap();
        assert_eq!((h.header_len, h.mask), (8, Some(key)));
        let mut body = out[h.header_len..].to_vec();
        assert_ne!(body, payload);
        super::super::mask::apply_mask_bytewise(&mut body, key, 0);
        assert_eq!(body, payload);
        let mut plain = Vec::new();
        write_frame(&mut plain, true, false, Opcode::Binary, None, &payload);
        assert_eq!(plain[4..], payload[..]);
    }
}
