//! One batch of outbound items encoded as WebSocket frames, and written in as few writes as the
//! socket accepts.

use std::collections::vec_deque;
use std::io::IoSlice;

use tokio::io::{AsyncWrite, AsyncWriteExt};

use super::outlet::Take;
use super::Outbound;
use crate::rpc::Frame;
use crate::ws::encode::{self, Opcode, MAX_HEADER};

/// Payloads up to this size are copied next to their header (one contiguous buffer: copying a small
/// frame costs less than the kernel's per-slice work for it); bigger ones are written from the
/// shared bytes where they are.
pub(super) const COPY_AT_MOST: usize = 1024;

/// How a batch ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum BatchEnd {
    /// Everything was written; more may follow.
    Written,
    /// A close frame was written: no more writes.
    Closed,
    /// The answer to the peer's close frame was written: no more writes, nothing to wait for.
    Replied,
}

/// One batch of frames, encoded as they are taken: headers, control frames and small payloads
/// copied into one scratch buffer that lives only for this batch (broadcasts straight from the
/// session's feed, while it is locked); big payloads kept as the shared frames, written where they
/// are. Anything taken after a close frame is dropped.
pub(super) struct BatchEncoder {
    scratch: Vec<u8>,
    /// The big payloads, each with the end of the scratch bytes that go before it.
    big: Vec<(usize, Frame)>,
    /// Frames encoded.
    frames: usize,
    end: BatchEnd,
}

impl Default for BatchEncoder {
    fn default() -> BatchEncoder {
        BatchEncoder { scratch: Vec::new(), big: Vec::new(), frames: 0, end: BatchEnd::Written }
    }
}

/// Scratch bytes a text frame takes: its header, and its payload if that is copied.
fn scratch_bytes(frame: &Frame) -> usize {
    if frame.len() <= COPY_AT_MOST { MAX_HEADER + frame.len() } else { MAX_HEADER }
}

impl BatchEncoder {
    /// Frames encoded so far.
    pub(super) fn frames(&self) -> usize {
        self.frames
    }

    /// How the batch ends once written.
    pub(super) fn end(&self) -> BatchEnd {
        self.end
    }

    fn closed(&self) -> bool {
        self.end != BatchEnd::Written
    }

    /// Encodes a text frame (the caller counts it and has reserved its scratch bytes).
    fn push_text(&mut self, frame: &Frame) {
        encode::push_header(&mut self.scratch, Opcode::Text, frame.len());
        if frame.len() <= COPY_AT_MOST {
            self.scratch.extend_from_slice(frame.as_bytes());
        } else {
            self.big.push((self.scratch.len(), frame.clone()));
        }
    }

    /// Encodes `item` (nothing once a close frame is in the batch).
    pub(super) fn push(&mut self, item: Outbound) {
        if self.closed() {
            return;
        }
        match item {
            Outbound::Text(frame) => {
                self.scratch.reserve(scratch_bytes(&frame));
                self.push_text(&frame);
            }
            Outbound::Close(code, reason) => {
                encode::push_close(&mut self.scratch, Some(code), reason);
                self.end = BatchEnd::Closed;
            }
            Outbound::CloseReply(code) => {
                encode::push_close(&mut self.scratch, code, "");
                self.end = BatchEnd::Replied;
            }
            Outbound::Pong(payload) => encode::push_pong(&mut self.scratch, &payload),
        }
        self.frames += 1;
    }

    /// True when nothing was encoded.
    pub(super) fn is_empty(&self) -> bool {
        self.frames == 0
    }

    /// Writes everything: one plain write when all of it is in the scratch buffer, vectored writes
    /// otherwise.
    pub(super) async fn write_to<W: AsyncWrite + Unpin>(&self, sink: &mut W) -> std::io::Result<()> {
        if self.big.is_empty() {
            return sink.write_all(&self.scratch).await;
        }
        let mut slices = Vec::with_capacity(2 * self.big.len() + 1);
        let mut start = 0;
        for (end, payload) in &self.big {
            slices.push(IoSlice::new(&self.scratch[start..*end]));
            slices.push(IoSlice::new(payload.as_bytes()));
            start = *end;
        }
        if start < self.scratch.len() {
            slices.push(IoSlice::new(&self.scratch[start..]));
        }
        let mut remaining = &mut slices[..];
        while !remaining.is_empty() {
            let written = sink.write_vectored(remaining).await?;
            if written == 0 {
                return Err(std::io::ErrorKind::WriteZero.into());
            }
            IoSlice::advance_slices(&mut remaining, written);
        }
        Ok(())
    }
}

impl Take for BatchEncoder {
    fn broadcasts(&mut self, frames: vec_deque::Iter<'_, Frame>) {
        if self.closed() {
            return;
        }
        self.scratch.reserve(frames.clone().map(scratch_bytes).sum());
        self.frames += frames.len();
        frames.for_each(|frame| self.push_text(frame));
    }

    fn own(&mut self, item: Outbound) {
        self.push(item);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use std::pin::Pin;
    use std::task::{Context, Poll};
    use tungstenite::protocol::frame::coding::{Control, Data, OpCode};
    use tungstenite::protocol::frame::FrameHeader;

    /// A socket that takes at most 7 bytes per write, to exercise partial vectored writes.
    struct Trickle(Vec<u8>);

    impl AsyncWrite for Trickle {
        fn poll_write(mut self: Pin<&mut Self>, _: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
            let n = buf.len().min(7);
            self.0.extend_from_slice(&buf[..n]);
            Poll::Ready(Ok(n))
        }
        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
            Poll::Ready(Ok(()))
        }
        fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    /// Splits a byte stream into (opcode, payload) frames with tungstenite's parser.
    fn frames(bytes: &[u8]) -> Vec<(OpCode, Vec<u8>)> {
        let mut cursor = std::io::Cursor::new(bytes);
        let mut out = Vec::new();
        while (cursor.position() as usize) < bytes.len() {
            let (header, len) = FrameHeader::parse(&mut cursor).expect("valid header").expect("whole header");
            assert!(header.is_final && header.mask.is_none());
            let start = cursor.position() as usize;
            out.push((header.opcode, bytes[start..start + len as usize].to_vec()));
            cursor.set_position((start + len as usize) as u64);
        }
        out
    }

    /// The frames `encoder` writes to a socket that takes at most 7 bytes per write.
    async fn written(encoder: &BatchEncoder) -> Vec<(OpCode, Vec<u8>)> {
        let mut socket = Trickle(Vec::new());
        encoder.write_to(&mut socket).await.expect("written");
        frames(&socket.0)
    }

    #[tokio::test]
    async fn a_batch_goes_out_as_the_same_frames_in_the_same_order_however_the_socket_takes_it() {
        let big = "b".repeat(COPY_AT_MOST * 5);
        let batch = vec![
            Outbound::Text(Frame::from("small one")),
            Outbound::Text(Frame::from(big.clone())),
            Outbound::Pong(Bytes::from_static(b"p")),
            Outbound::Text(Frame::from(big.clone())),
            Outbound::Text(Frame::from("small two")),
            Outbound::Close(1000, "bye"),
        ];
        let mut encoder = BatchEncoder::default();
        batch.into_iter().for_each(|item| encoder.push(item));
        let text = OpCode::Data(Data::Text);
        assert_eq!(
            written(&encoder).await,
            vec![
                (text, b"small one".to_vec()),
                (text, big.clone().into_bytes()),
                (OpCode::Control(Control::Pong), b"p".to_vec()),
                (text, big.into_bytes()),
                (text, b"small two".to_vec()),
                (OpCode::Control(Control::Close), [&1000u16.to_be_bytes()[..], b"bye"].concat()),
            ]
        );
    }

    #[tokio::test]
    async fn broadcasts_lent_by_the_feed_are_encoded_in_place_and_nothing_goes_after_a_close() {
        let big = "b".repeat(COPY_AT_MOST + 1);
        let lent: std::collections::VecDeque<Frame> = [Frame::from("one"), Frame::from(big.clone())].into_iter().collect();
        let mut encoder = BatchEncoder::default();
        encoder.broadcasts(lent.iter());
        encoder.own(Outbound::Close(1001, "away"));
        encoder.broadcasts(lent.iter());
        encoder.own(Outbound::Text(Frame::from("after")));
        assert_eq!(encoder.frames(), 3);
        assert_eq!(encoder.end(), BatchEnd::Closed);
        let text = OpCode::Data(Data::Text);
        assert_eq!(
            written(&encoder).await,
            vec![
                (text, b"one".to_vec()),
                (text, big.into_bytes()),
                (OpCode::Control(Control::Close), [&1001u16.to_be_bytes()[..], b"away"].concat()),
            ]
        );
    }
}
