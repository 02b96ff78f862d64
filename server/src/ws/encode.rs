//! Encoding of server-to-client WebSocket frames (RFC 6455 section 5.2). A server's frames are never
//! masked, so a frame is a 2 to 10 byte header followed by the payload as is. The writer
//! ([`crate::outbound`]) puts headers into a per-batch scratch buffer; payloads are either copied
//! next to them (small ones) or written from the shared, encoded-once notification bytes.

/// Longest frame header: FIN/opcode byte, length byte, 8 length bytes.
pub const MAX_HEADER: usize = 10;

/// Frame opcodes the server sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opcode {
    /// A UTF-8 text message.
    Text = 0x1,
    /// A close frame.
    Close = 0x8,
    /// The answer to a ping.
    Pong = 0xA,
}

/// Appends the header of a final (unfragmented), unmasked frame of `len` payload bytes to `out`.
pub fn push_header(out: &mut Vec<u8>, opcode: Opcode, len: usize) {
    out.push(0x80 | opcode as u8);
    if len < 126 {
        out.push(len as u8);
    } else if let Ok(short) = u16::try_from(len) {
        out.push(126);
        out.extend_from_slice(&short.to_be_bytes());
    } else {
        out.push(127);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
}

/// Appends a whole close frame (header and payload) to `out`: `code` and `reason`, or an empty
/// payload when there is no code. The reason is cut to fit a control frame (125 bytes in all).
pub fn push_close(out: &mut Vec<u8>, code: Option<u16>, reason: &str) {
    let Some(code) = code else {
        push_header(out, Opcode::Close, 0);
        return;
    };
    let mut end = reason.len().min(123);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    let reason = &reason.as_bytes()[..end];
    push_header(out, Opcode::Close, 2 + reason.len());
    out.extend_from_slice(&code.to_be_bytes());
    out.extend_from_slice(reason);
}

/// Appends a whole pong frame echoing `payload` (cut to the 125 bytes a control frame may carry).
pub fn push_pong(out: &mut Vec<u8>, payload: &[u8]) {
    let payload = &payload[..payload.len().min(125)];
    push_header(out, Opcode::Pong, payload.len());
    out.extend_from_slice(payload);
}

#[cfg(test)]
mod tests {
    use super::*;
    use tungstenite::protocol::frame::coding::{Data, OpCode};
    use tungstenite::protocol::frame::FrameHeader;

    /// Parses `bytes` with tungstenite's own frame parser: (header, payload length, header length).
    fn parse(bytes: &[u8]) -> (FrameHeader, u64, usize) {
        let mut cursor = std::io::Cursor::new(bytes);
        let (header, len) = FrameHeader::parse(&mut cursor).expect("valid").expect("complete");
        (header, len, cursor.position() as usize)
    }

    #[test]
    fn text_headers_use_the_shortest_length_form_and_parse_back() {
        for (len, header_len) in [(0, 2), (125, 2), (126, 4), (65_535, 4), (65_536, 10), (1 << 20, 10)] {
            let mut out = Vec::new();
            push_header(&mut out, Opcode::Text, len);
            assert_eq!(out.len(), header_len, "header for {len} bytes");
            assert!(out.len() <= MAX_HEADER);
            let (header, parsed_len, used) = parse(&out);
            assert!(header.is_final);
            assert_eq!(header.opcode, OpCode::Data(Data::Text));
            assert_eq!(header.mask, None, "server frames are not masked");
            assert_eq!((parsed_len, used), (len as u64, header_len));
        }
    }

    #[test]
    fn close_frames_carry_code_and_reason() {
        let mut out = Vec::new();
        push_close(&mut out, Some(1009), "message too big");
        let (header, len, used) = parse(&out);
        assert_eq!(header.opcode, OpCode::Control(tungstenite::protocol::frame::coding::Control::Close));
        assert_eq!(len as usize, out.len() - used);
        assert_eq!(&out[used..used + 2], &1009u16.to_be_bytes());
        assert_eq!(&out[used + 2..], b"message too big");
    }

    #[test]
    fn control_payloads_never_exceed_125_bytes() {
        let mut out = Vec::new();
        push_close(&mut out, Some(1000), &"é".repeat(100));
        let (_, len, used) = parse(&out);
        assert!(len <= 125);
        assert!(std::str::from_utf8(&out[used + 2..]).is_ok(), "a reason is never cut inside a character");
        let mut out = Vec::new();
        push_pong(&mut out, &[7; 300]);
        assert_eq!(parse(&out).1, 125);
        let mut out = Vec::new();
        push_close(&mut out, None, "ignored");
        assert_eq!(out, [0x88, 0]);
    }
}
