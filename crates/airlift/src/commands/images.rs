//! `airlift images`.

use airlift_oci::index::Key;

use super::*;

#[derive(Serialize)]
pub(crate) struct ImageRow {
    repository: String,
    tag: Option<String>,
    digest: airlift_core::Digest,
    media_type: Option<String>,
    size: u64,
}

pub(crate) fn images(context: &Context) -> Result<(), Failure> {
    let store = context.store()?;
    let mut rows: Vec<ImageRow> = Vec::new();
    if let Some(generation) = store.meta.current()? {
        let entries = store
            .meta
            .entries(generation.id, Some(airlift_oci::ECOSYSTEM))?;
        let mut tagged = std::collections::BTreeSet::new();
        for entry in &entries {
            if let Some(Key::Tag { repository, tag }) = airlift_oci::index::parse_key(&entry.key) {
                tagged.insert((repository.to_owned(), entry.digest));
                rows.push(ImageRow {
                    repository: repository.to_owned(),
                    tag: Some(tag.to_owned()),
                    digest: entry.digest,
                    media_type: entry.meta["media_type"].as_str().map(str::to_owned),
                    size: entry.size,
                });
            }
        }
        for entry in &entries {
            if let Some(Key::Manifest { repository, .. }) =
                airlift_oci::index::parse_key(&entry.key)
                && !tagged.contains(&(repository.to_owned(), entry.digest))
            {
                rows.push(ImageRow {
                    repository: repository.to_owned(),
                    tag: None,
                    digest: entry.digest,
                    media_type: entry.meta["media_type"].as_str().map(str::to_owned),
                    size: entry.size,
                });
            }
        }
    }
    rows.sort_by(|a, b| (&a.repository, &a.tag).cmp(&(&b.repository, &b.tag)));
    context.emit(&rows, || {
        if rows.is_empty() {
            return "no container images are served here (collect [[oci]] images, import a bundle that carries some, or push one)".to_owned();
        }
        rows.iter()
            .map(|row| {
                format!(
                    "{}:{} {} {}",
                    row.repository,
                    row.tag.as_deref().unwrap_or("<none>"),
                    row.digest,
                    row.media_type.as_deref().unwrap_or("")
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    })
}
