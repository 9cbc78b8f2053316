//! Finding a small set of bytes in a line at SIMD speed.
//!
//! Cleaning and escaping look for a handful of bytes (`\r \n \t |`, a
//! backslash) that almost never occur. Scanning each of ~50 short values one
//! byte at a time costs more than the rest of a row's work; instead the whole
//! line is searched once with `memchr`, and a value borrowed from the line
//! needs attention only when one of the few hits falls inside it.

/// A set of bytes, searched three at a time with `memchr3`.
#[derive(Debug, Clone, Default)]
pub struct ByteSet {
    bytes: Vec<u8>,
}

impl ByteSet {
    pub fn new(bytes: impl IntoIterator<Item = u8>) -> ByteSet {
        let mut v: Vec<u8> = bytes.into_iter().collect();
        v.sort_unstable();
        v.dedup();
        ByteSet { bytes: v }
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Positions of every byte of the set in `hay`, sorted, into `out`.
    pub fn find_all(&self, hay: &[u8], out: &mut Vec<usize>) {
        out.clear();
        for group in self.bytes.chunks(3) {
            match *group {
                [a] => out.extend(memchr::memchr_iter(a, hay)),
                [a, b] => out.extend(memchr::memchr2_iter(a, b, hay)),
                [a, b, c] => out.extend(memchr::memchr3_iter(a, b, c, hay)),
                _ => unreachable!("chunks of at most 3"),
            }
        }
        if self.bytes.len() > 3 {
            out.sort_unstable();
        }
    }

    /// Whether `hay` holds any byte of the set.
    pub fn any_in(&self, hay: &[u8]) -> bool {
        self.bytes.chunks(3).any(|group| match *group {
            [a] => memchr::memchr(a, hay).is_some(),
            [a, b] => memchr::memchr2(a, b, hay).is_some(),
            [a, b, c] => memchr::memchr3(a, b, c, hay).is_some(),
            _ => unreachable!("chunks of at most 3"),
        })
    }
}

/// The hits of a [`ByteSet`] in one line, as a bitmap over its bytes, to
/// ask in constant time whether a value cut from the line holds any.
#[derive(Debug, Default)]
pub struct LineHits {
    base: usize,
    len: usize,
    bits: Vec<u64>,
    scratch: Vec<usize>,
}

impl LineHits {
    pub fn scan(&mut self, set: &ByteSet, line: &[u8]) {
        self.base = line.as_ptr() as usize;
        self.len = line.len();
        self.bits.clear();
        self.bits.resize(line.len() / 64 + 1, 0);
        set.find_all(line, &mut self.scratch);
        for &h in &self.scratch {
            self.bits[h / 64] |= 1 << (h % 64);
        }
    }

    /// `Some(false)`: `value` lies in the scanned line and holds no byte of the
    /// set. `Some(true)`: it lies in the line and holds one. `None`: it does
    /// not come from the line (a computed or literal value); scan it yourself.
    pub fn within(&self, value: &[u8]) -> Option<bool> {
        let start = (value.as_ptr() as usize).checked_sub(self.base)?;
        let end = start + value.len();
        if end > self.len {
            return None;
        }
        if start == end {
            return Some(false);
        }
        let (first, last) = (start / 64, (end - 1) / 64);
        let lo = u64::MAX << (start % 64);
        let hi = u64::MAX >> (63 - (end - 1) % 64);
        if first == last {
            return Some(self.bits[first] & lo & hi != 0);
        }
        let middle = self.bits[first + 1..last].iter().any(|w| *w != 0);
        Some(self.bits[first] & lo != 0 || middle || self.bits[last] & hi != 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hits_locate_values_of_the_line() {
        let set = ByteSet::new(*b"\t\r\n|\\");
        let line = "ab|c\u{1}def\u{1}x\\y";
        let mut hits = LineHits::default();
        hits.scan(&set, line.as_bytes());
        let fields: Vec<&str> = line.split('\u{1}').collect();
        assert_eq!(hits.within(fields[0].as_bytes()), Some(true));
        assert_eq!(hits.within(fields[1].as_bytes()), Some(false));
        assert_eq!(hits.within(fields[2].as_bytes()), Some(true));
        assert_eq!(hits.within(b"elsewhere|"), None);
        assert!(set.any_in(b"x\\") && !set.any_in(b"plain"));
    }

    #[test]
    fn bitmap_ranges_across_words() {
        let set = ByteSet::new([b'|']);
        let mut line = vec![b'a'; 300];
        line[70] = b'|';
        line[200] = b'|';
        let mut hits = LineHits::default();
        hits.scan(&set, &line);
        for start in 0..300 {
            for end in start..=300 {
                let want = (start..end).any(|i| i == 70 || i == 200);
                assert_eq!(hits.within(&line[start..end]), Some(want), "{start}..{end}");
            }
        }
    }
}
