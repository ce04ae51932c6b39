//! The bytes a connection has yet to write, as a [`Buf`] of chunks.
//!
//! Small chunks (request headers, small requests) are copied together into
//! one buffer; large ones (record batches shared with the producer) are
//! queued as they are and reach the socket through vectored writes, never
//! copied. Order is kept: the gathering buffer always comes after the
//! queued chunks, and is closed off before a large chunk is queued.

use std::collections::VecDeque;
use std::io::IoSlice;

use bytes::{Buf, Bytes, BytesMut};

/// Chunks up to this size are copied into the gathering buffer.
const COPY_MAX: usize = 4 * 1024;

#[derive(Debug, Default)]
pub(crate) struct WriteQueue {
    /// Chunks ready to write, in order; none is empty.
    chunks: VecDeque<Bytes>,
    /// Small chunks gathered after `chunks`.
    tail: BytesMut,
    len: usize,
}

impl WriteQueue {
    /// Queues `chunk` after everything queued so far.
    pub fn push(&mut self, chunk: Bytes) {
        if chunk.is_empty() {
            return;
        }
        self.len += chunk.len();
        if chunk.len() <= COPY_MAX {
            self.tail.extend_from_slice(&chunk);
            return;
        }
        if !self.tail.is_empty() {
            self.chunks.push_back(self.tail.split().freeze());
        }
        self.chunks.push_back(chunk);
    }

    /// Bytes not yet written.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether everything was written.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl Buf for WriteQueue {
    fn remaining(&self) -> usize {
        self.len
    }

    fn chunk(&self) -> &[u8] {
        match self.chunks.front() {
            Some(front) => front,
            None => &self.tail,
        }
    }

    fn advance(&mut self, mut cnt: usize) {
        while cnt > 0 {
            let Some(front) = self.chunks.front_mut() else {
                let n = cnt.min(self.tail.len());
                self.tail.advance(n);
                self.len -= n;
                return;
            };
            let n = cnt.min(front.len());
            front.advance(n);
            self.len -= n;
            cnt -= n;
            if front.is_empty() {
                self.chunks.pop_front();
            }
        }
    }

    fn chunks_vectored<'a>(&'a self, dst: &mut [IoSlice<'a>]) -> usize {
        let tail = (!self.tail.is_empty()).then_some(&self.tail[..]);
        let all = self.chunks.iter().map(|c| &c[..]).chain(tail);
        let mut n = 0;
        for (slot, chunk) in dst.iter_mut().zip(all) {
            *slot = IoSlice::new(chunk);
            n += 1;
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(q: &mut WriteQueue, step: usize, vectored: bool) -> Vec<u8> {
        let mut out = Vec::new();
        while q.has_remaining() {
            let mut slices = [IoSlice::new(&[]); 3];
            let got: Vec<u8> = if vectored {
                let n = q.chunks_vectored(&mut slices);
                slices
                    .iter()
                    .take(n)
                    .flat_map(|s| s.iter().copied())
                    .collect()
            } else {
                q.chunk().to_vec()
            };
            let take = got.len().min(step);
            assert!(take > 0, "a queue with bytes left offers some");
            out.extend_from_slice(&got[..take]);
            q.advance(take);
        }
        out
    }

    #[test]
    fn keeps_order_and_shares_large_chunks() {
        let big = Bytes::from(vec![1u8; COPY_MAX + 1]);
        let pieces = [
            Bytes::from_static(b"head"),
            big.clone(),
            Bytes::from_static(b""),
            Bytes::from_static(b"mid"),
            Bytes::from_static(b"dle"),
            big.clone(),
            Bytes::from_static(b"end"),
        ];
        let expected: Vec<u8> = pieces.concat();
        for step in [1, 7, 4096, usize::MAX] {
            for vectored in [false, true] {
                let mut q = WriteQueue::default();
                for p in &pieces {
                    q.push(p.clone());
                }
                assert_eq!(q.len(), expected.len());
                assert!(
                    q.chunks.iter().any(|c| c.as_ptr() == big.as_ptr()),
                    "large chunks are queued, not copied"
                );
                assert_eq!(drain(&mut q, step, vectored), expected, "step {step}");
                assert!(q.is_empty() && q.chunks.is_empty());
            }
        }
    }

    #[test]
    fn pushes_after_a_partial_write_go_last() {
        let mut q = WriteQueue::default();
        q.push(Bytes::from_static(b"abc"));
        q.advance(2);
        q.push(Bytes::from(vec![b'x'; COPY_MAX + 1]));
        q.push(Bytes::from_static(b"yz"));
        let mut want = b"c".to_vec();
        want.extend(std::iter::repeat_n(b'x', COPY_MAX + 1));
        want.extend_from_slice(b"yz");
        assert_eq!(drain(&mut q, 5, true), want);
    }
}
