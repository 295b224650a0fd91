//! `airlift verify`.

use super::*;

pub(crate) fn import_options<'a>(
    context: &'a Context,
    trust: Option<&'a Path>,
    removals: airlift_bundle::RemovalPolicy,
) -> Result<ImportOptions<'a>, Failure> {
    Ok(ImportOptions {
        layout: &context.layout,
        trusted_root: trust,
        removals,
        hosted: context.hosted()?,
        admission: admission(context)?,
    })
}

pub(crate) fn verify(context: &Context, args: VerifyArgs) -> Result<(), Failure> {
    if !args.parts.is_empty() {
        let mut checked = Vec::new();
        for part in &args.parts {
            let name = part
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let (stream, index) = name
                .rsplit_once(".part-")
                .and_then(|(stream, n)| Some((stream.to_owned(), n.parse::<usize>().ok()?)))
                .filter(|(_, n)| *n >= 1)
                .ok_or_else(|| {
                    Failure::input(format!(
                        "{} is not a part file (<name>.part-0001)",
                        part.display()
                    ))
                })?;
            let toc_file = part
                .parent()
                .unwrap_or(Path::new("."))
                .join(format!("{stream}.toc.json"));
            if !toc_file.is_file() {
                return Err(Failure::input(format!(
                    "{}: its table of contents {} is not next to it; copy the .toc.json too",
                    part.display(),
                    toc_file.display()
                )));
            }
            let toc = airlift_bundle::parts::read_toc(&toc_file)?;
            if index > toc.parts.len() {
                return Err(Failure::input(format!(
                    "{}: the table of contents lists {} parts",
                    part.display(),
                    toc.parts.len()
                )));
            }
            airlift_bundle::parts::verify_part(&toc_file, &toc, index - 1)?;
            checked.push(serde_json::json!({"part": part, "index": index, "of": toc.parts.len()}));
        }
        return context.emit(&checked, || {
            checked
                .iter()
                .map(|c| {
                    format!(
                        "OK: part {} of {} ({})",
                        c["index"],
                        c["of"],
                        c["part"].as_str().unwrap_or("")
                    )
                })
                .collect::<Vec<_>>()
                .join("\n")
        });
    }
    let Some(bundle) = args.bundle else {
        return Err(Failure::input("give a bundle or --part"));
    };
    let store = context.store()?;
    // Verify checks the bundle only: the site's admission check is plan's
    // and import's.
    let options = ImportOptions {
        admission: None,
        ..import_options(context, args.trust.as_deref(), Default::default())?
    };
    let result = airlift_bundle::verify(&bundle, &store, &options, &context.bar())?;
    context.emit(&result, || {
        format!(
            "OK: bundle {} version {} verified: {} targets, {} bytes, {} index entries; importable until {}{}",
            result.bundle_id,
            result.version,
            result.targets,
            result.bytes,
            result.entries,
            result.expires,
            if result.already_imported { " (already imported here)" } else { "" }
        )
    })
}
