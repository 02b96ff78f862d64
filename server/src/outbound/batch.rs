//! One batch of outbound items encoded as WebSocket frames, and written in as few writes as the
//! socket accepts.

use std::io::IoSlice;

use tokio::io::{AsyncWrite, AsyncWriteExt};

use super::Outbound;
use crate::rpc::Frame;
use crate::ws::encode::{self, Opcode, MAX_HEADER};

/// Payloads up to this size are copied next to their header (one contiguous buffer: copying a small
/// frame costs less than the kernel's per-slice work for it); bigger ones are written from the
/// shared bytes where they are.
const COPY_AT_MOST: usize = 1024;

/// One batch of frames, encoded: headers, control frames and small payloads in one scratch buffer
/// that lives only for this batch; big payloads kept as the shared frames, written where they are.
#[derive(Default)]
pub(super) struct BatchEncoder {
    scratch: Vec<u8>,
    /// The big payloads, each with the end of the scratch bytes that go before it.
    big: Vec<(usize, Frame)>,
}

impl BatchEncoder {
    /// An encoder with its scratch buffer sized for `items` (one allocation per batch, no growth).
    pub(super) fn for_items(items: &[Outbound]) -> BatchEncoder {
        let bytes = items
            .iter()
            .map(|item| match item {
                Outbound::Text(frame) if frame.len() <= COPY_AT_MOST => MAX_HEADER + frame.len(),
                Outbound::Text(_) => MAX_HEADER,
                Outbound::Close(_, reason) => MAX_HEADER + 2 + reason.len(),
                Outbound::CloseReply(_) => MAX_HEADER + 2,
                Outbound::Pong(payload) => MAX_HEADER + payload.len(),
            })
            .sum();
        BatchEncoder { scratch: Vec::with_capacity(bytes), big: Vec::new() }
    }

    pub(super) fn push(&mut self, item: Outbound) {
        let scratch = &mut self.scratch;
        match item {
            Outbound::Text(frame) => {
                encode::push_header(scratch, Opcode::Text, frame.len());
                if frame.len() <= COPY_AT_MOST {
                    scratch.extend_from_slice(frame.as_bytes());
                } else {
                    self.big.push((scratch.len(), frame));
                }
            }
            Outbound::Close(code, reason) => encode::push_close(scratch, Some(code), reason),
            Outbound::CloseReply(code) => encode::push_close(scratch, code, ""),
            Outbound::Pong(payload) => encode::push_pong(scratch, &payload),
        }
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
        let mut socket = Trickle(Vec::new());
        let mut encoder = BatchEncoder::default();
        batch.into_iter().for_each(|item| encoder.push(item));
        encoder.write_to(&mut socket).await.expect("written");
        let text = OpCode::Data(Data::Text);
        assert_eq!(
            frames(&socket.0),
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
}
