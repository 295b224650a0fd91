//! Release verification: an archive's `InRelease` (or `Release` with
//! `Release.gpg`), checked against the configured keyring, for the suite it
//! was asked for, and not expired. Everything else a collect reads is
//! trusted only through the hashes this Release lists.

use airlift_core::SafeUrl;
use airlift_fetch::{Fetcher, Secret};

use super::{CollectError, Planned};
use crate::release::Release;

/// One archive being collected: where it is and how to reach it.
pub(super) struct Archive<'a> {
    pub(super) fetcher: &'a Fetcher,
    pub(super) planned: &'a Planned,
}

impl Archive<'_> {
    pub(super) fn name(&self) -> &str {
        &self.planned.spec.name
    }

    pub(super) fn url(&self, path: &str) -> Result<SafeUrl, CollectError> {
        self.planned
            .base
            .expose()
            .join(path)
            .ok()
            .and_then(|u| SafeUrl::parse(u.as_str()).ok())
            .ok_or_else(|| CollectError::Spec {
                archive: self.name().into(),
                message: format!("cannot form a URL for {path}"),
            })
    }

    pub(super) fn authorization(&self, url: &SafeUrl) -> Option<Secret> {
        airlift_fetch::same_origin(url.expose(), self.planned.base.expose())
            .then(|| self.planned.authorization.clone())
            .flatten()
    }

    pub(super) async fn get(&self, url: &SafeUrl) -> Result<Option<Vec<u8>>, String> {
        let page = self
            .fetcher
            .get_small(url, &[], self.authorization(url).as_ref(), 16 << 20)
            .await
            .map_err(|e| e.to_string())?;
        if matches!(page.status.as_u16(), 404 | 410) {
            return Ok(None);
        }
        if !page.status.is_success() {
            return Err(format!("answered {}", page.status));
        }
        Ok(Some(page.body))
    }

    /// The verified Release of `suite`, and the signed document to keep.
    pub(super) async fn release(
        &self,
        suite: &str,
    ) -> Result<(Release, Vec<u8>, String), CollectError> {
        let in_release = self.url(&format!("dists/{suite}/InRelease"))?;
        let fail = |url: &SafeUrl, message: String| CollectError::Release {
            archive: self.name().into(),
            suite: suite.into(),
            url: url.redacted(),
            message,
        };
        let keyring = &self.planned.keyring;
        let hint = |e: airlift_pgp::PgpError| {
            format!("{e} (keyring {})", self.planned.keyring_path.display())
        };
        let (text, document, signer, url) = match self
            .get(&in_release)
            .await
            .map_err(|e| fail(&in_release, e))?
        {
            Some(body) => {
                let (text, signer) = keyring
                    .verify_cleartext(&body)
                    .map_err(|e| fail(&in_release, hint(e)))?;
                (text, body, signer, in_release)
            }
            None => {
                let release = self.url(&format!("dists/{suite}/Release"))?;
                let signature = self.url(&format!("dists/{suite}/Release.gpg"))?;
                let body = self
                    .get(&release)
                    .await
                    .map_err(|e| fail(&release, e))?
                    .ok_or_else(|| fail(&release, "neither InRelease nor Release exists".into()))?;
                let sig = self
                    .get(&signature)
                    .await
                    .map_err(|e| fail(&signature, e))?
                    .ok_or_else(|| {
                        fail(
                            &signature,
                            "Release is not signed (no Release.gpg); unsigned archives are refused"
                                .into(),
                        )
                    })?;
                let signer = keyring
                    .verify_detached(&body, &sig)
                    .map_err(|e| fail(&signature, hint(e)))?;
                let mut document = body.clone();
                document.extend_from_slice(b"\n");
                document.extend_from_slice(&sig);
                (body, document, signer, release)
            }
        };
        let text =
            String::from_utf8(text).map_err(|_| fail(&url, "Release is not UTF-8".into()))?;
        let release = Release::parse(&text).map_err(|e| fail(&url, e))?;
        if release.get("suite") != Some(suite) && release.get("codename") != Some(suite) {
            return Err(fail(
                &url,
                format!(
                    "the signed Release is for suite {:?} (codename {:?}), not {suite:?}: refused as mix-and-match",
                    release.get("suite").unwrap_or("?"),
                    release.get("codename").unwrap_or("?")
                ),
            ));
        }
        if let Some(until) = release.time("valid-until").map_err(|e| fail(&url, e))?
            && until < jiff::Timestamp::now()
        {
            return Err(fail(
                &url,
                format!("the Release expired at {until} (Valid-Until)"),
            ));
        }
        Ok((release, document, signer))
    }
}
