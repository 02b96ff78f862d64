//! Lays a session's small broadcasts out next to each other in memory, in the order they are sent.
//!
//! Every member's writer copies the broadcasts it has not sent yet into its next write
//! ([`super::batch`]). While each broadcast was its own allocation, scattered among everything
//! else the server allocates, those copies missed the cache on almost every frame: under churn
//! (bench S5, 3,000 replacements/s) `memmove` took 11.0% of the server's `perf` samples. Packed into shared
//! chunks, a socket's pending broadcasts are read in sequence: 6.0%, at the same cost of sends.
//!
//! A chunk is freed once its last frame is dropped (by the feed, the replay ring and the backlogs).
//! Chunks grow while a session fills them quickly and shrink while it does not, so a quiet session
//! holds little, and one that broadcast nothing for [`QUIET`] lets its open chunk go.

use std::time::{Duration, Instant};

use bytes::BytesMut;

use crate::rpc::Frame;

/// Frames longer than this are kept where they are: the writers send them from their own bytes
/// without copying them (the batch encoder's copy bound).
pub const PACK_AT_MOST: usize = super::batch::COPY_AT_MOST;
/// The smallest chunk, and the first.
pub const MIN_CHUNK: usize = 1024;
/// The largest chunk: about a second of one busy session's broadcasts (80 of ~200 bytes).
pub const MAX_CHUNK: usize = 16 * 1024;
/// A chunk filled within this of its opening makes the next one twice as big; a slower one, half.
pub const FILL_TIME: Duration = Duration::from_secs(1);
/// A packer that packed nothing for this long lets its open chunk go ([`FramePacker::release_if_quiet`]).
pub const QUIET: Duration = Duration::from_secs(2);

/// Copies a session's small broadcasts into shared chunks, one after the other.
#[derive(Debug)]
pub struct FramePacker {
    /// The free end of the open chunk (empty, no capacity: none open).
    open: BytesMut,
    /// Capacity of the open chunk (of the next one, when none is open).
    chunk: usize,
    opened_at: Option<Instant>,
    last_packed: Option<Instant>,
}

impl Default for FramePacker {
    fn default() -> FramePacker {
        FramePacker { open: BytesMut::new(), chunk: MIN_CHUNK, opened_at: None, last_packed: None }
    }
}

impl FramePacker {
    /// `frame`'s bytes, placed right after the previous frame packed when they fit in the open
    /// chunk; frames longer than [`PACK_AT_MOST`] come back as they are.
    pub fn pack(&mut self, frame: &Frame, now: Instant) -> Frame {
        if frame.len() > PACK_AT_MOST {
            return frame.clone();
        }
        if self.open.capacity() < frame.len() {
            self.open_chunk(now);
        }
        self.open.extend_from_slice(frame.as_bytes());
        self.last_packed = Some(now);
        // The bytes were copied from a `Frame`: valid UTF-8, so the fallback is never taken.
        Frame::try_from(self.open.split().freeze()).unwrap_or_else(|_| frame.clone())
    }

    /// Drops the open chunk if nothing was packed for [`QUIET`] (its frames stay valid for as long
    /// as they are kept); the next chunk is the smallest.
    pub fn release_if_quiet(&mut self, now: Instant) {
        let quiet = !matches!(self.last_packed, Some(last) if now.saturating_duration_since(last) < QUIET);
        if quiet && self.opened_at.is_some() {
            *self = FramePacker::default();
        }
    }

    /// Opens the next chunk (at least [`PACK_AT_MOST`] bytes, so any small frame fits), sized from
    /// how fast the last one filled.
    fn open_chunk(&mut self, now: Instant) {
        if let Some(opened_at) = self.opened_at {
            self.chunk = if now.saturating_duration_since(opened_at) < FILL_TIME {
                (self.chunk * 2).min(MAX_CHUNK)
            } else {
                (self.chunk / 2).max(MIN_CHUNK)
            };
        }
        self.open = BytesMut::with_capacity(self.chunk.max(PACK_AT_MOST));
        self.opened_at = Some(now);
    }

    /// Capacity of the open chunk (0: none open).
    #[cfg(test)]
    fn open_chunk_capacity(&self) -> usize {
        if self.opened_at.is_some() { self.chunk } else { 0 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(len: usize) -> Frame {
        Frame::from("x".repeat(len))
    }

    fn adjacent(a: &Frame, b: &Frame) -> bool {
        a.as_bytes().as_ptr_range().end == b.as_bytes().as_ptr()
    }

    #[test]
    fn consecutive_small_broadcasts_sit_next_to_each_other_with_their_bytes_unchanged() {
        let mut packer = FramePacker::default();
        let now = Instant::now();
        let originals: Vec<Frame> = (0..4).map(|i| Frame::from(format!("{{\"n\":{i}}}"))).collect();
        let packed: Vec<Frame> = originals.iter().map(|f| packer.pack(f, now)).collect();
        assert_eq!(packed, originals);
        assert!(packed.windows(2).all(|pair| adjacent(&pair[0], &pair[1])));
        assert!(!std::ptr::eq(packed[0].as_bytes().as_ptr(), originals[0].as_bytes().as_ptr()), "a copy");
    }

    #[test]
    fn a_frame_too_big_to_be_copied_by_the_writers_is_kept_where_it_is() {
        let mut packer = FramePacker::default();
        let big = frame(PACK_AT_MOST + 1);
        let packed = packer.pack(&big, Instant::now());
        assert!(std::ptr::eq(packed.as_bytes().as_ptr(), big.as_bytes().as_ptr()));
        assert_eq!(packer.open_chunk_capacity(), 0, "no chunk opened for it");
        let at_most = frame(PACK_AT_MOST);
        assert_eq!(packer.pack(&at_most, Instant::now()), at_most, "the largest packed frame fits a fresh chunk");
    }

    #[test]
    fn a_frame_that_does_not_fit_the_open_chunk_starts_the_next_one() {
        let mut packer = FramePacker::default();
        let now = Instant::now();
        let first = packer.pack(&frame(600), now);
        let second = packer.pack(&frame(600), now);
        assert!(!adjacent(&first, &second), "1,200 bytes do not fit a 1 KiB chunk");
        let third = packer.pack(&frame(100), now);
        assert!(adjacent(&second, &third));
    }

    /// Packs the largest small frames at `now` until the open chunk is full (opening one first if
    /// the last is full); returns its capacity.
    fn fill_a_chunk(packer: &mut FramePacker, now: Instant) -> usize {
        packer.pack(&frame(PACK_AT_MOST), now);
        while packer.open.capacity() >= PACK_AT_MOST {
            packer.pack(&frame(PACK_AT_MOST), now);
        }
        packer.open_chunk_capacity()
    }

    #[test]
    fn chunks_grow_while_filled_within_a_second_and_shrink_when_not() {
        let mut packer = FramePacker::default();
        let mut now = Instant::now();
        let growing: Vec<usize> = (0..6).map(|_| fill_a_chunk(&mut packer, now)).collect();
        assert_eq!(growing, [1024, 2048, 4096, 8192, 16384, 16384], "doubling up to the largest");
        let shrinking: Vec<usize> = (0..5)
            .map(|_| {
                now += FILL_TIME;
                fill_a_chunk(&mut packer, now)
            })
            .collect();
        assert_eq!(shrinking, [8192, 4096, 2048, 1024, 1024], "halving down to the smallest");
    }

    #[test]
    fn a_quiet_packer_lets_its_open_chunk_go_and_its_frames_stay_valid() {
        let mut packer = FramePacker::default();
        let start = Instant::now();
        for _ in 0..20 {
            packer.pack(&frame(PACK_AT_MOST), start); // up to a 16 KiB chunk
        }
        let kept = packer.pack(&frame(10), start);
        packer.release_if_quiet(start + QUIET / 2);
        assert!(packer.open_chunk_capacity() > 0, "not quiet yet");
        packer.release_if_quiet(start + QUIET);
        assert_eq!(packer.open_chunk_capacity(), 0, "the open chunk is gone");
        assert_eq!(kept, frame(10), "a frame kept elsewhere still reads the same");
        packer.pack(&frame(10), start + QUIET);
        assert_eq!(packer.open_chunk_capacity(), MIN_CHUNK, "it starts small again");
    }
}
