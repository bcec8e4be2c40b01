//! Close frame payloads: status code validation and encoding.

use super::{utf8, ProtocolError};

/// Codes a peer may put on the wire (RFC 6455 7.4, IANA registry, 3000-4999 private).
pub fn is_valid_wire_code(code: u16) -> bool {
    matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999)
}

/// A close frame's payload, parsed: `code` is 1005 when the frame carried none.
#[derive(Debug, PartialEq, Eq)]
pub struct ClosePayload<'a> {
    pub code: u16,
    pub reason: &'a [u8],
}

pub fn parse_close_payload(payload: &[u8]) -> Result<ClosePayload<'_>, ProtocolError> {
    match payload.len() {
        0 => Ok(ClosePayload { code: 1005, reason: &[] }),
        1 => Err(ProtocolError::InvalidClosePayload),
        _ => {
            let code = u16::from_be_bytes([payload[0], payload[1]]);
            if !is_valid_wire_code(code) {
                return Err(ProtocolError::InvalidCloseCode(code));
            }
            let reason = &payload[2..];
            if !utf8::is_valid(reason) {
                return Err(ProtocolError::InvalidUtf8);
            }
            Ok(ClosePayload { code, reason })
        }
    }
}

/// Writes a close payload (code + reason, reason cut to fit 125 bytes on a char boundary).
pub fn encode_close_payload(code: u16, reason: &[u8], out: &mut Vec<u8>) {
    if code == 1005 {
        return; // "no status": an empty close frame
    }
    out.extend_from_slice(&code.to_be_bytes());
    let mut end = reason.len().min(123);
    while end > 0 && end < reason.len() && (reason[end] & 0xC0) == 0x80 {
        end -= 1;
    }
    out.extend_from_slice(&reason[..end]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_codes() {
        for c in [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 4999] {
            assert!(is_valid_wire_code(c), "{c}");
        }
        for c in [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535] {
            assert!(!is_valid_wire_code(c), "{c}");
        }
    }

    #[test]
    fn parse() {
        assert_eq!(parse_close_payload(&[]).unwrap().code, 1005);
        assert_eq!(parse_close_payload(&[3]), Err(ProtocolError::InvalidClosePayload));
        let p = parse_close_payload(&[0x03, 0xe8, b'h', b'i']).unwrap();
        assert_eq!((p.code, p.reason), (1000, &b"hi"[..]));
        assert_eq!(parse_close_payload(&[0x03, 0xed]), Err(ProtocolError::InvalidCloseCode(1005)));
        assert_eq!(parse_close_payload(&[0x03, 0xe8, 0xff]), Err(ProtocolError::InvalidUtf8));
    }

    #[test]
    fn encode_cuts_on_char_boundary() {
        let reason = "é".repeat(100);
        let mut out = Vec::new();
        encode_close_payload(1000, reason.as_bytes(), &mut out);
        assert!(out.len() <= 125);
        assert!(std::str::from_utf8(&out[2..]).is_ok());
    }
}
