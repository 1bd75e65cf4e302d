//! Encoding and decoding of messages (postcard), with the size limits enforced.

use serde::{Deserialize, Serialize};

use crate::MAX_MESSAGE;

/// Why a message could not be encoded or decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CodecError {
    /// The encoded message would exceed [`MAX_MESSAGE`] or the buffer given.
    TooLarge,
    /// The bytes are not a valid message (bad tag, truncated, trailing bytes).
    Malformed,
    /// An empty message: on a SEQPACKET socket that means end of stream, never a message.
    Empty,
}

impl core::fmt::Display for CodecError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            CodecError::TooLarge => "message larger than the protocol's maximum",
            CodecError::Malformed => "malformed message",
            CodecError::Empty => "empty message",
        })
    }
}

impl std::error::Error for CodecError {}

/// Encodes `msg` into `buf` (at most [`MAX_MESSAGE`] bytes used) and returns the bytes.
/// Never allocates.
pub fn encode<'b, T: Serialize>(msg: &T, buf: &'b mut [u8]) -> Result<&'b mut [u8], CodecError> {
    let limit = buf.len().min(MAX_MESSAGE);
    postcard::to_slice(msg, &mut buf[..limit]).map_err(|_| CodecError::TooLarge)
}

/// Decodes one whole message; trailing bytes are an error. Never allocates.
pub fn decode<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> Result<T, CodecError> {
    if bytes.is_empty() {
        return Err(CodecError::Empty);
    }
    if bytes.len() > MAX_MESSAGE {
        return Err(CodecError::TooLarge);
    }
    match postcard::take_from_bytes(bytes) {
        Ok((msg, [])) => Ok(msg),
        _ => Err(CodecError::Malformed),
    }
}
