//! Charset encoding of output lines, with the spec's unmappable policy.
//!
//! encoding_rs encodes GBK and GB18030 (with its fast hanzi tables); a
//! character the charset cannot represent either fails the build or becomes
//! `?`, and is counted either way.

use encoding_rs::{EncoderResult, GB18030, GBK};

use crate::spec::{Encoding, Unmappable};

/// A character the output charset cannot represent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnmappableChar {
    pub ch: char,
    /// Byte offset in the UTF-8 line.
    pub at: usize,
}

pub struct LineEncoder {
    encoding: Encoding,
    policy: Unmappable,
    encoder: Option<encoding_rs::Encoder>,
}

impl LineEncoder {
    pub fn new(encoding: Encoding, policy: Unmappable) -> LineEncoder {
        let encoder = match encoding {
            Encoding::Utf8 => None,
            Encoding::Gbk => Some(GBK.new_encoder()),
            Encoding::Gb18030 => Some(GB18030.new_encoder()),
        };
        LineEncoder {
            encoding,
            policy,
            encoder,
        }
    }

    pub fn encoding(&self) -> Encoding {
        self.encoding
    }

    /// Appends `line` encoded to `out`. Returns how many characters were
    /// replaced by `?`, or the first unmappable character under `fail`.
    pub fn encode(&mut self, line: &str, out: &mut Vec<u8>) -> Result<u64, UnmappableChar> {
        let Some(enc) = self.encoder.as_mut() else {
            out.extend_from_slice(line.as_bytes());
            return Ok(0);
        };
        if line.is_ascii() {
            out.extend_from_slice(line.as_bytes());
            return Ok(0);
        }
        let mut replaced = 0;
        let mut src = line;
        let mut offset = 0;
        loop {
            let need = enc
                .max_buffer_length_from_utf8_without_replacement(src.len())
                .unwrap_or(src.len() * 4 + 16);
            let start = out.len();
            out.resize(start + need, 0);
            let (result, read, written) = enc.encode_from_utf8_without_replacement(src, &mut out[start..], true);
            out.truncate(start + written);
            match result {
                EncoderResult::InputEmpty => return Ok(replaced),
                EncoderResult::OutputFull => {}
                EncoderResult::Unmappable(ch) => {
                    let at = offset + read - ch.len_utf8();
                    if self.policy == Unmappable::Fail {
                        return Err(UnmappableChar { ch, at });
                    }
                    out.push(b'?');
                    replaced += 1;
                }
            }
            src = &src[read..];
            offset += read;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gbk_with_both_policies() {
        let mut out = Vec::new();
        let mut fail = LineEncoder::new(Encoding::Gbk, Unmappable::Fail);
        assert_eq!(fail.encode("首页|ok", &mut out), Ok(0));
        assert_eq!(out, b"\xca\xd7\xd2\xb3|ok");
        let err = fail.encode("ab😀", &mut Vec::new()).unwrap_err();
        assert_eq!(err, UnmappableChar { ch: '😀', at: 2 });

        let mut replace = LineEncoder::new(Encoding::Gbk, Unmappable::Replace);
        let mut out = Vec::new();
        assert_eq!(replace.encode("首😀页𠮷", &mut out), Ok(2));
        assert_eq!(out, b"\xca\xd7?\xd2\xb3?");

        let mut gb18030 = LineEncoder::new(Encoding::Gb18030, Unmappable::Fail);
        assert!(
            gb18030.encode("😀𠮷", &mut Vec::new()).is_ok(),
            "GB18030 covers all of Unicode"
        );
    }
}
