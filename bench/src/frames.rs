//! The load generator's own WebSocket framing (RFC 6455 section 5), used once the opening handshake
//! is done: a per-client read buffer that yields every whole frame a read brought in, and masked
//! client frames.
//!
//! A general WebSocket library hands out one message per poll, through a select over every branch
//! of the client loop: at 600k frames/s that bookkeeping, not the server, was what the load
//! generator's core spent its time on. Here one wake-up reads what the socket holds and hands each
//! frame to the caller in place. The server never fragments messages, so fragments are an error.

use std::io;

use bytes::{Buf, BytesMut};
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

/// Room made for each read.
const READ_CHUNK: usize = 16 * 1024;

/// A read stops after this much so a flooded socket cannot starve the client's other work.
const READ_AT_MOST: usize = 256 * 1024;

/// A frame longer than this is an error (the server caps its frames far below).
const MAX_FRAME: u64 = 64 * 1024 * 1024;

/// Frame opcodes (RFC 6455 section 5.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Opcode {
    /// Text data.
    Text = 0x1,
    /// Close.
    Close = 0x8,
    /// Pong.
    Pong = 0xA,
}

/// One frame from the server, borrowed from the read buffer.
#[derive(Debug, PartialEq, Eq)]
pub enum ServerFrame<'a> {
    /// A text message.
    Text(&'a str),
    /// A close frame: code (if given) and reason.
    Close(Option<u16>, &'a str),
    /// A ping, to be answered with its payload.
    Ping(&'a [u8]),
    /// Binary data or a pong: nothing the load generator uses.
    Ignored,
}

/// What a read found.
#[derive(Debug, PartialEq, Eq)]
pub enum Fill {
    /// Bytes arrived (or nothing was there yet: a spurious wake-up).
    Open,
    /// The server closed the connection (after anything read before it).
    Ended,
}

/// A client's read side: bytes read but not yet handed out as frames.
#[derive(Default)]
pub struct FrameReader {
    buffer: BytesMut,
}

impl FrameReader {
    /// Waits for bytes, then reads what the socket holds (up to [`READ_AT_MOST`]). Cancel-safe: bytes
    /// read stay buffered.
    ///
    /// The first read is awaited through tokio's `AsyncRead`: when it returns less than the room it
    /// was offered the socket is drained, and tokio then clears the socket's readiness itself. So a
    /// wake-up costs one `recv`, not a second one that only learns `WouldBlock` (S5's churn:
    /// 69k `recv` calls a second before, 46k after).
    pub async fn read(&mut self, stream: &mut TcpStream) -> io::Result<Fill> {
        self.buffer.reserve(READ_CHUNK);
        let room = self.buffer.capacity() - self.buffer.len();
        let first = stream.read_buf(&mut self.buffer).await?;
        if first == 0 {
            return Ok(Fill::Ended);
        }
        if first < room {
            return Ok(Fill::Open);
        }
        self.fill(stream, first)
    }

    /// Reads whatever else the socket holds without waiting, `already` bytes having been read.
    fn fill(&mut self, stream: &TcpStream, already: usize) -> io::Result<Fill> {
        let mut read = already;
        while read < READ_AT_MOST {
            self.buffer.reserve(READ_CHUNK);
            match stream.try_read_buf(&mut self.buffer) {
                Ok(0) => return Ok(Fill::Ended),
                Ok(n) => read += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(Fill::Open)
    }

    /// Appends bytes as if read (a client's first frames can come with the handshake's answer);
    /// the next [`FrameReader::drain`] hands them out before what later reads bring.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buffer.extend_from_slice(bytes);
    }

    /// Hands every whole frame buffered to `each`, oldest first, until `each` returns `Some`
    /// (which is then returned); an incomplete frame stays for the next read. A protocol error
    /// (masked, fragmented, oversized or non-UTF-8 frame) is an `Err`.
    pub fn drain<T>(&mut self, mut each: impl FnMut(ServerFrame<'_>) -> Option<T>) -> Result<Option<T>, String> {
        let mut consumed = 0;
        let mut stopped = None;
        while let Some((header, total)) = parse_header(&self.buffer[consumed..])? {
            let payload = &self.buffer[consumed + header..consumed + total];
            let frame = decode(self.buffer[consumed], payload)?;
            consumed += total;
            if let Some(value) = each(frame) {
                stopped = Some(value);
                break;
            }
        }
        self.buffer.advance(consumed);
        if self.buffer.is_empty() {
            // An idle client keeps no read buffer (the next read allocates one).
            self.buffer = BytesMut::new();
        }
        Ok(stopped)
    }
}

/// `(header length, frame length)` of the first frame in `bytes`, once all of it is there.
fn parse_header(bytes: &[u8]) -> Result<Option<(usize, usize)>, String> {
    let [first, second, ..] = *bytes else { return Ok(None) };
    if first & 0x80 == 0 || first & 0x0F == 0 {
        return Err("fragmented WebSocket message (otc-server never fragments)".into());
    }
    if first & 0x70 != 0 {
        return Err("WebSocket frame with reserved bits set".into());
    }
    if second & 0x80 != 0 {
        return Err("masked WebSocket frame from the server".into());
    }
    let (header, len) = match second & 0x7F {
        126 if bytes.len() >= 4 => (4, u64::from(u16::from_be_bytes([bytes[2], bytes[3]]))),
        127 if bytes.len() >= 10 => (10, u64::from_be_bytes([bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7], bytes[8], bytes[9]])),
        126 | 127 => return Ok(None),
        len => (2, u64::from(len)),
    };
    if len > MAX_FRAME {
        return Err(format!("WebSocket frame of {len} bytes"));
    }
    let total = header + len as usize;
    Ok((bytes.len() >= total).then_some((header, total)))
}

fn decode(first: u8, payload: &[u8]) -> Result<ServerFrame<'_>, String> {
    Ok(match first & 0x0F {
        0x1 => ServerFrame::Text(std::str::from_utf8(payload).map_err(|_| "text frame that is not UTF-8")?),
        0x8 => match payload {
            [] => ServerFrame::Close(None, ""),
            [high, low, reason @ ..] => ServerFrame::Close(Some(u16::from_be_bytes([*high, *low])), std::str::from_utf8(reason).unwrap_or("")),
            [_] => return Err("close frame with a one-byte payload".into()),
        },
        0x9 => ServerFrame::Ping(payload),
        0x2 | 0xA => ServerFrame::Ignored,
        other => return Err(format!("unknown WebSocket opcode {other:#x}")),
    })
}

/// Masking keys for a client's frames: an xorshift sequence (RFC 6455 asks for keys the page's
/// script cannot predict; nothing here is a browser, the server only needs frames to be masked).
pub struct MaskKeys(u32);

impl MaskKeys {
    /// Keys seeded by `seed` (any value).
    pub fn new(seed: u64) -> MaskKeys {
        MaskKeys((seed as u32 ^ (seed >> 32) as u32) | 1)
    }

    fn next(&mut self) -> [u8; 4] {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.0 = x;
        x.to_be_bytes()
    }
}

/// One final, masked client frame.
pub fn client_frame(opcode: Opcode, payload: &[u8], keys: &mut MaskKeys) -> Vec<u8> {
    let mut frame = Vec::with_capacity(payload.len() + 14);
    frame.push(0x80 | opcode as u8);
    match payload.len() {
        len @ 0..=125 => frame.push(0x80 | len as u8),
        len @ 126..=0xFFFF => {
            frame.push(0x80 | 126);
            frame.extend_from_slice(&(len as u16).to_be_bytes());
        }
        len => {
            frame.push(0x80 | 127);
            frame.extend_from_slice(&(len as u64).to_be_bytes());
        }
    }
    let key = keys.next();
    frame.extend_from_slice(&key);
    frame.extend(payload.iter().enumerate().map(|(i, byte)| byte ^ key[i % 4]));
    frame
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
    use tokio_tungstenite::tungstenite::protocol::frame::{Frame, FrameHeader};

    /// A server frame as tungstenite would write it.
    fn server_frame(frame: Frame) -> Vec<u8> {
        let mut bytes = Vec::new();
        frame.format(&mut bytes).expect("format");
        bytes
    }

    fn texts(reader: &mut FrameReader) -> Vec<String> {
        let mut out = Vec::new();
        reader
            .drain(|frame| {
                match frame {
                    ServerFrame::Text(text) => out.push(text.to_string()),
                    other => out.push(format!("{other:?}")),
                }
                None::<()>
            })
            .expect("valid frames");
        out
    }

    #[test]
    fn every_length_form_is_read_whole_even_a_byte_at_a_time() {
        let messages = ["short".to_string(), "m".repeat(300), "l".repeat(70_000)];
        let stream: Vec<u8> = messages.iter().flat_map(|m| server_frame(Frame::message(m.clone(), OpCode::Data(Data::Text), true))).collect();
        let mut reader = FrameReader::default();
        let mut seen = Vec::new();
        for byte in &stream {
            reader.push(std::slice::from_ref(byte));
            seen.extend(texts(&mut reader));
        }
        assert_eq!(seen, messages);
    }

    #[tokio::test]
    async fn a_read_takes_what_the_socket_holds_past_one_chunk_and_then_sees_the_end() {
        use tokio::io::AsyncWriteExt;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let mut client = TcpStream::connect(listener.local_addr().expect("addr")).await.expect("connect");
        let (mut server, _) = listener.accept().await.expect("accept");
        let message = "m".repeat(1000);
        // 40 frames: more than one read chunk (16 KiB), so a read continues past the first chunk.
        let burst = server_frame(Frame::message(message.clone(), OpCode::Data(Data::Text), true)).repeat(40);
        server.write_all(&burst).await.expect("write");
        let mut reader = FrameReader::default();
        let mut seen = Vec::new();
        while seen.len() < 40 {
            assert_eq!(reader.read(&mut client).await.expect("read"), Fill::Open);
            seen.extend(texts(&mut reader));
        }
        assert!(seen.iter().all(|text| *text == message));
        drop(server);
        assert_eq!(reader.read(&mut client).await.expect("read"), Fill::Ended);
    }

    #[test]
    fn control_frames_are_told_apart() {
        let mut reader = FrameReader::default();
        reader.push(&server_frame(Frame::ping(b"hi".to_vec())));
        reader.push(&server_frame(Frame::close(Some(tokio_tungstenite::tungstenite::protocol::CloseFrame {
            code: 1000.into(),
            reason: "bye".into(),
        }))));
        let mut frames = Vec::new();
        reader
            .drain(|frame| {
                frames.push(format!("{frame:?}"));
                None::<()>
            })
            .unwrap();
        assert_eq!(frames, vec![format!("{:?}", ServerFrame::Ping(b"hi")), format!("{:?}", ServerFrame::Close(Some(1000), "bye"))]);
    }

    #[test]
    fn drain_stops_where_the_caller_says_and_keeps_the_rest() {
        let mut reader = FrameReader::default();
        for text in ["one", "two", "three"] {
            reader.push(&server_frame(Frame::message(text, OpCode::Data(Data::Text), true)));
        }
        let stopped = reader.drain(|frame| matches!(frame, ServerFrame::Text("two")).then_some("found")).unwrap();
        assert_eq!(stopped, Some("found"));
        assert_eq!(texts(&mut reader), vec!["three"]);
    }

    #[test]
    fn protocol_errors_are_errors() {
        let bad = |bytes: &[u8]| {
            let mut reader = FrameReader::default();
            reader.push(bytes);
            reader.drain(|_| None::<()>).unwrap_err()
        };
        assert!(bad(&[0x01, 0x01, b'a']).contains("fragmented"));
        assert!(bad(&[0x81, 0x81, 0, 0, 0, 0, b'a']).contains("masked"));
        assert!(bad(&[0x81, 0x01, 0xFF]).contains("UTF-8"));
        assert!(bad(&[0xC1, 0x00]).contains("reserved"));
        assert!(bad(&[0x81, 127, 0xFF, 0, 0, 0, 0, 0, 0, 0]).contains("bytes"));
    }

    #[test]
    fn client_frames_are_masked_and_parse_back_with_tungstenite() {
        let mut keys = MaskKeys::new(42);
        for payload in ["x".repeat(5), "y".repeat(200), "z".repeat(70_000)] {
            let bytes = client_frame(Opcode::Text, payload.as_bytes(), &mut keys);
            let mut cursor = std::io::Cursor::new(&bytes[..]);
            let (header, len) = FrameHeader::parse(&mut cursor).expect("valid").expect("whole");
            assert!(header.is_final);
            let mask = header.mask.expect("client frames are masked");
            let start = cursor.position() as usize;
            assert_eq!(len as usize, payload.len());
            let unmasked: Vec<u8> = bytes[start..].iter().enumerate().map(|(i, b)| b ^ mask[i % 4]).collect();
            assert_eq!(unmasked, payload.as_bytes());
        }
    }
}
