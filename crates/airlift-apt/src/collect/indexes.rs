//! Packages indexes: each one fetched by the hash the verified Release
//! lists, decompressed within the size the Release gives for the plain
//! text, checked against that text's own hash when listed, and read into
//! `Candidate`s. A stanza that cannot be carried is left out with a note.

use std::collections::BTreeSet;
use std::io::Read;
use std::sync::Arc;

use airlift_core::Digest;

use super::CollectError;
use super::verify::Archive;
use crate::relation::{self, Rel};
use crate::release::Release;
use crate::{control, version, xz};

/// A paragraph of an index text, kept as a range of the shared text.
#[derive(Clone, Debug)]
pub(super) struct Stanza {
    text: Arc<String>,
    start: usize,
    end: usize,
}

impl Stanza {
    pub(super) fn as_str(&self) -> &str {
        self.text.get(self.start..self.end).unwrap_or_default()
    }
}

/// One binary package of an index.
#[derive(Clone, Debug)]
pub(super) struct Candidate {
    pub(super) stanza: Stanza,
    pub(super) package: String,
    pub(super) version: String,
    pub(super) arch: String,
    pub(super) filename: String,
    pub(super) size: u64,
    pub(super) sha256: Digest,
    pub(super) priority: String,
    pub(super) essential: bool,
    pub(super) provides: Vec<Rel>,
    /// `Pre-Depends` and `Depends`, as written: parsed only for packages
    /// the closure reaches.
    pub(super) depends: String,
    /// `Recommends`, as written.
    pub(super) recommends: String,
    /// (suite, component) pairs listing it.
    pub(super) homes: BTreeSet<(String, String)>,
}

impl Candidate {
    pub(super) fn label(&self) -> String {
        format!("{} {} ({})", self.package, self.version, self.arch)
    }
}

impl Archive<'_> {
    /// Reads one Packages index (compressed form preferred) and checks it
    /// against the Release.
    pub(super) async fn packages(
        &self,
        suite: &str,
        release: &Release,
        dir: &str,
    ) -> Result<Option<String>, CollectError> {
        let fail = |path: &str, message: String| CollectError::Index {
            archive: self.name().into(),
            suite: suite.into(),
            path: path.into(),
            message,
        };
        let plain = format!("{dir}/Packages");
        let Some((path, (digest, size))) = [".gz", ".xz", ""].iter().find_map(|ext| {
            let path = format!("{plain}{ext}");
            release.sha256.get(&path).map(|d| (path, *d))
        }) else {
            return Ok(None);
        };
        let by_hash = release.get("acquire-by-hash") == Some("yes");
        let relative = if by_hash {
            format!("dists/{suite}/{dir}/by-hash/SHA256/{}", digest.hex())
        } else {
            format!("dists/{suite}/{path}")
        };
        // Indexes are read, not kept: nothing reaches the store before the
        // closure is known to be complete.
        let url = self.url(&relative)?;
        if size > INDEX_LIMIT {
            return Err(fail(
                &path,
                format!("{size} bytes is more than an index may be ({INDEX_LIMIT})"),
            ));
        }
        let page = self
            .fetcher
            .get_small(
                &url,
                &[],
                self.authorization(&url).as_ref(),
                INDEX_LIMIT as usize,
            )
            .await
            .map_err(|e| fail(&path, e.to_string()))?;
        if !page.status.is_success() {
            return Err(fail(
                &path,
                format!("{} answered {}", url.redacted(), page.status),
            ));
        }
        let actual = Digest::of(&page.body);
        if actual != digest {
            return Err(fail(
                &path,
                format!(
                    "the file hashes to {actual}, the signed Release says {digest}: refused (tampered or stale index)"
                ),
            ));
        }
        if page.body.len() as u64 != size {
            return Err(fail(
                &path,
                format!("{} bytes, the Release says {size}", page.body.len()),
            ));
        }
        let listed_plain = release.sha256.get(&plain).copied();
        let limit = listed_plain.map_or(4 << 30, |(_, s)| s);
        let text = tokio::task::spawn_blocking({
            let path = path.clone();
            move || decompress(std::io::Cursor::new(page.body), &path, limit)
        })
        .await
        .map_err(|e| fail(&path, e.to_string()))?
        .map_err(|e| fail(&path, e))?;
        if let Some((expected, _)) = listed_plain {
            let actual = Digest::of(&text);
            if actual != expected {
                return Err(fail(
                    &plain,
                    format!("decompressed text hashes to {actual}, the Release says {expected}"),
                ));
            }
        }
        Ok(Some(String::from_utf8(text).unwrap_or_else(|e| {
            String::from_utf8_lossy(e.as_bytes()).into_owned()
        })))
    }
}

/// The largest index file read (compressed, as fetched).
const INDEX_LIMIT: u64 = 512 << 20;

fn decompress(reader: impl Read, path: &str, limit: u64) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    if path.ends_with(".xz") {
        xz::decode(reader, &mut out, limit).map_err(|e| e.to_string())?;
    } else if path.ends_with(".gz") {
        flate2::read::MultiGzDecoder::new(reader)
            .take(limit + 1)
            .read_to_end(&mut out)
            .map_err(|e| format!("gzip: {e}"))?;
    } else {
        reader
            .take(limit + 1)
            .read_to_end(&mut out)
            .map_err(|e| e.to_string())?;
    }
    if out.len() as u64 > limit {
        return Err(format!(
            "decompresses to more than {limit} bytes; refused as a decompression bomb"
        ));
    }
    Ok(out)
}

/// Whether a `Filename` is a plain relative path inside the archive.
pub fn valid_filename(name: &str) -> bool {
    !name.is_empty()
        && name.len() < 1024
        && !name.starts_with('/')
        && !name.starts_with("dists/")
        && (name.ends_with(".deb") || name.ends_with(".udeb"))
        && name
            .split('/')
            .all(|s| !s.is_empty() && s != "." && s != "..")
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._+~-".contains(&b))
}

pub(super) fn candidate(
    p: &control::Paragraph<'_>,
    text: &Arc<String>,
    suite: &str,
    component: &str,
) -> Result<Candidate, String> {
    let field = |name: &str| {
        p.get(name)
            .ok_or_else(|| format!("a stanza without {name}"))
            .map(str::to_owned)
    };
    let package = field("Package")?;
    let context = |e: String| format!("{package}: {e}");
    let version = field("Version").map_err(context)?;
    if !version::valid(&version) {
        return Err(format!("{package}: {version:?} is not a Debian version"));
    }
    let filename = field("Filename").map_err(context)?;
    if !valid_filename(&filename) {
        return Err(format!(
            "{package}: Filename {filename:?} is not a plain path inside the archive"
        ));
    }
    let size = field("Size")
        .map_err(context)?
        .parse()
        .map_err(|_| format!("{package}: Size is not a number"))?;
    let sha256 = Digest::from_hex(&field("SHA256").map_err(context)?).map_err(|_| {
        format!("{package}: SHA256 is not a SHA-256 (MD5 and SHA-1 alone are refused)")
    })?;
    let rel = |name: &str| -> Result<Vec<Vec<Rel>>, String> {
        p.get(name)
            .map(|v| relation::parse(&v.replace('\n', " ")))
            .transpose()
            .map(Option::unwrap_or_default)
            .map_err(|e| format!("{package}: {name}: {e}"))
    };
    let mut depends = p.get("Pre-Depends").unwrap_or("").to_owned();
    if let Some(more) = p.get("Depends") {
        if !depends.is_empty() {
            depends.push_str(", ");
        }
        depends.push_str(more);
    }
    let provides = match p.get("Provides") {
        None => Vec::new(),
        Some(_) => rel("Provides")?.into_iter().flatten().collect(),
    };
    Ok(Candidate {
        stanza: {
            let start = (p.text.as_ptr() as usize).saturating_sub(text.as_ptr() as usize);
            Stanza {
                text: text.clone(),
                start,
                end: start + p.text.len(),
            }
        },
        version,
        arch: field("Architecture").map_err(context)?,
        filename,
        size,
        sha256,
        priority: p.get("Priority").unwrap_or("optional").to_owned(),
        essential: p.get("Essential") == Some("yes"),
        provides,
        depends,
        recommends: p.get("Recommends").unwrap_or("").to_owned(),
        homes: [(suite.to_owned(), component.to_owned())].into(),
        package,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filenames_stay_inside_the_archive() {
        assert!(valid_filename(
            "pool/main/c/curl/curl_7.88.1-10+deb12u5_amd64.deb"
        ));
        for bad in [
            "/etc/x.deb",
            "pool/../../x.deb",
            "pool//x.deb",
            "pool/x.tar",
            "pool/x y.deb",
            "",
        ] {
            assert!(!valid_filename(bad), "{bad}");
        }
    }
}
