//! MIT's file credentials cache, format version 4 (what `kinit` and Java
//! write): read for its principal and when its ticket-granting ticket ends.

/// What chama needs from an MIT file cache (format version 4, the one MIT and
/// Java write): its principal and when its ticket-granting ticket ends.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct CredCache {
    pub(super) principal: String,
    /// End of the TGT for the principal's realm, seconds since the epoch.
    pub(super) tgt_end: Option<i64>,
}

impl CredCache {
    pub(super) fn parse(b: &[u8]) -> Option<CredCache> {
        let mut r = Bytes(b);
        if r.u16()? != 0x0504 {
            return None;
        }
        let header = r.u16()? as usize;
        r.take(header)?;
        let (name, realm) = r.principal()?;
        let principal = format!("{name}@{realm}");
        let tgt = format!("krbtgt/{realm}@{realm}");
        let mut tgt_end = None;
        while !r.0.is_empty() {
            let _client = r.principal()?;
            let (server, server_realm) = r.principal()?;
            r.u16()?; // key type
            r.data()?; // key
            let (_auth, _start, end, _renew) = (r.u32()?, r.u32()?, r.u32()?, r.u32()?);
            r.take(1 + 4)?; // is_skey, flags
            for _ in 0..r.u32()? {
                r.u16()?;
                r.data()?;
            }
            for _ in 0..r.u32()? {
                r.u16()?;
                r.data()?;
            }
            r.data()?; // ticket
            r.data()?; // second ticket
            if format!("{server}@{server_realm}") == tgt {
                tgt_end = Some(tgt_end.map_or(end as i64, |e: i64| e.max(end as i64)));
            }
        }
        Some(CredCache { principal, tgt_end })
    }
}

struct Bytes<'a>(&'a [u8]);

impl<'a> Bytes<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Some(a)
    }
    fn u16(&mut self) -> Option<u16> {
        self.take(2).map(|b| u16::from_be_bytes([b[0], b[1]]))
    }
    fn u32(&mut self) -> Option<u32> {
        self.take(4).map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn data(&mut self) -> Option<&'a [u8]> {
        let n = self.u32()? as usize;
        self.take(n)
    }
    /// A principal: its components joined by `/`, and its realm.
    fn principal(&mut self) -> Option<(String, String)> {
        self.u32()?; // name type
        let n = self.u32()?;
        let realm = String::from_utf8_lossy(self.data()?).into_owned();
        let parts: Option<Vec<String>> = (0..n)
            .map(|_| self.data().map(|d| String::from_utf8_lossy(d).into_owned()))
            .collect();
        Some((parts?.join("/"), realm))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A cache as MIT's kinit 1.20 writes it: header, principal, two
    /// configuration entries, then the TGT.
    #[test]
    fn an_mit_file_cache_gives_its_principal_and_tgt_end() {
        fn principal(out: &mut Vec<u8>, realm: &str, parts: &[&str]) {
            out.extend(1u32.to_be_bytes());
            out.extend((parts.len() as u32).to_be_bytes());
            data(out, realm.as_bytes());
            for p in parts {
                data(out, p.as_bytes());
            }
        }
        fn data(out: &mut Vec<u8>, d: &[u8]) {
            out.extend((d.len() as u32).to_be_bytes());
            out.extend(d);
        }
        fn cred(out: &mut Vec<u8>, server: (&str, &[&str]), end: u32) {
            principal(out, "EXAMPLE.TEST", &["chama"]);
            principal(out, server.0, server.1);
            out.extend(18u16.to_be_bytes());
            data(out, &[7; 32]);
            for t in [end - 100, end - 100, end, end + 100] {
                out.extend(t.to_be_bytes());
            }
            out.push(0);
            out.extend(0u32.to_be_bytes());
            out.extend(0u32.to_be_bytes());
            out.extend(0u32.to_be_bytes());
            data(out, b"ticket");
            data(out, b"");
        }
        let mut b = vec![5, 4, 0, 12, 0, 1, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0];
        principal(&mut b, "EXAMPLE.TEST", &["chama"]);
        cred(&mut b, ("X-CACHECONF:", &["krb5_ccache_conf_data", "fast_avail"]), 1000);
        cred(&mut b, ("EXAMPLE.TEST", &["krbtgt", "EXAMPLE.TEST"]), 1_796_700_000);
        let c = CredCache::parse(&b).unwrap();
        assert_eq!(
            c,
            CredCache {
                principal: "chama@EXAMPLE.TEST".into(),
                tgt_end: Some(1_796_700_000)
            }
        );
        assert_eq!(CredCache::parse(&b[..b.len() - 3]), None, "a cut cache is no cache");
        assert_eq!(CredCache::parse(b"\x05\x03"), None);
    }
}
