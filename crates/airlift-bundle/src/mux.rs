//! A zstd stream that stores already-compressed data instead of compressing it again.
//!
//! A `.tar.zst` bundle is a sequence of zstd frames, which every zstd decoder
//! reads as one stream. Compressible regions go through the (multi-threaded)
//! zstd encoder; regions marked raw, such as gzip layers, wheels or `.deb`
//! files, are written as frames of raw blocks (RFC 8878 §3.1.1.2.2,
//! `Block_Type` 0): stored at memory speed, with no CPU spent trying to
//! shrink what will not shrink. Output depends only on input and settings, so
//! bundles stay reproducible.

use std::io::{self, Write};

/// Largest raw block: 128 KiB, the format's maximum.
const RAW_BLOCK: usize = 128 * 1024;
/// Frame header of a raw frame: magic, descriptor (no content size, no
/// checksum, not single-segment), window descriptor for a 128 KiB window.
const RAW_FRAME_HEADER: [u8; 6] = [0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x38];

enum State<W: Write> {
    Idle(W),
    Compressing(zstd::stream::write::Encoder<'static, W>),
    Raw(RawFrame<W>),
    Gone,
}

/// The multiplexing writer.
pub(crate) struct ZstdMux<W: Write> {
    level: i32,
    threads: u32,
    raw: bool,
    state: State<W>,
}

impl<W: Write> ZstdMux<W> {
    pub(crate) fn new(inner: W, level: i32, threads: u32) -> Self {
        Self {
            level,
            threads,
            raw: false,
            state: State::Idle(inner),
        }
    }

    /// Ends the current frame and returns the inner writer.
    fn settle(&mut self) -> io::Result<W> {
        match std::mem::replace(&mut self.state, State::Gone) {
            State::Idle(inner) => Ok(inner),
            State::Compressing(encoder) => encoder.finish(),
            State::Raw(frame) => frame.finish(),
            State::Gone => Err(io::Error::other("zstd stream already failed")),
        }
    }

    /// Chooses how the following bytes are written.
    pub(crate) fn set_raw(&mut self, raw: bool) -> io::Result<()> {
        if raw != self.raw {
            let inner = self.settle()?;
            self.state = State::Idle(inner);
            self.raw = raw;
        }
        Ok(())
    }

    /// Ends the last frame.
    pub(crate) fn finish(mut self) -> io::Result<W> {
        self.settle()
    }
}

impl<W: Write> Write for ZstdMux<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if data.is_empty() {
            return Ok(0);
        }
        if let State::Idle(_) = self.state {
            let State::Idle(inner) = std::mem::replace(&mut self.state, State::Gone) else {
                return Err(io::Error::other("unreachable zstd state"));
            };
            self.state = if self.raw {
                State::Raw(RawFrame::new(inner))
            } else {
                let mut encoder = zstd::stream::write::Encoder::new(inner, self.level)?;
                encoder.multithread(self.threads)?;
                encoder.include_checksum(true)?;
                State::Compressing(encoder)
            };
        }
        match &mut self.state {
            State::Compressing(encoder) => encoder.write(data),
            State::Raw(frame) => frame.write(data),
            State::Idle(_) | State::Gone => Err(io::Error::other("zstd stream already failed")),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// One zstd frame made of raw blocks.
struct RawFrame<W: Write> {
    inner: W,
    block: Vec<u8>,
    started: bool,
}

impl<W: Write> RawFrame<W> {
    fn new(inner: W) -> Self {
        Self {
            inner,
            block: Vec::with_capacity(RAW_BLOCK),
            started: false,
        }
    }

    fn emit(&mut self, last: bool) -> io::Result<()> {
        if !self.started {
            self.inner.write_all(&RAW_FRAME_HEADER)?;
            self.started = true;
        }
        let header = u32::from(last) | ((self.block.len() as u32) << 3);
        self.inner.write_all(&header.to_le_bytes()[..3])?;
        self.inner.write_all(&self.block)?;
        self.block.clear();
        Ok(())
    }

    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.block.len() == RAW_BLOCK {
            // More data follows, so this block is not the last one.
            self.emit(false)?;
        }
        let take = (RAW_BLOCK - self.block.len()).min(data.len());
        self.block.extend_from_slice(&data[..take]);
        Ok(take)
    }

    fn finish(mut self) -> io::Result<W> {
        self.emit(true)?;
        Ok(self.inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn mixed_frames_decode_as_one_stream() {
        let text: Vec<u8> = b"compressible line\n".repeat(50_000);
        let noise: Vec<u8> = (0..1_000_003u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        let mut mux = ZstdMux::new(Vec::new(), 3, 1);
        mux.write_all(&text).expect("write");
        mux.set_raw(true).expect("switch");
        mux.write_all(&noise).expect("write");
        mux.set_raw(false).expect("switch");
        mux.write_all(&text).expect("write");
        mux.set_raw(true).expect("switch");
        mux.write_all(&noise[..RAW_BLOCK])
            .expect("write an exact block");
        let encoded = mux.finish().expect("finish");
        assert!(
            encoded.len() < text.len() + noise.len() + RAW_BLOCK,
            "nothing was compressed"
        );
        let mut decoded = Vec::new();
        zstd::stream::read::Decoder::new(encoded.as_slice())
            .expect("decoder")
            .read_to_end(&mut decoded)
            .expect("decode");
        let mut expected = text.clone();
        expected.extend_from_slice(&noise);
        expected.extend_from_slice(&text);
        expected.extend_from_slice(&noise[..RAW_BLOCK]);
        assert!(decoded == expected, "round trip differs");
        // The command-line tool agrees, when it is installed.
        if let Ok(mut child) = std::process::Command::new("zstd")
            .args(["-d", "-c", "-q"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
        {
            let mut stdin = child.stdin.take().expect("stdin");
            let input = encoded.clone();
            let feeder = std::thread::spawn(move || stdin.write_all(&input));
            let output = child.wait_with_output().expect("zstd output");
            feeder.join().expect("feeder").expect("feed zstd");
            assert!(output.status.success(), "zstd -d refused our frames");
            assert!(output.stdout == expected, "zstd -d decoded differently");
        }
    }
}
