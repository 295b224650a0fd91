//! Publishing into the site: the legacy upload API that `twine upload` and
//! `uv publish` speak, at `POST /pypi/legacy/`.
//!
//! The body is `multipart/form-data` with `:action=file_upload`,
//! `protocol_version=1`, the release's `name` and `version`, `filetype`,
//! `sha256_digest`, core-metadata fields, and the distribution file as the
//! part `content`. The file part is streamed into a staged blob, never
//! held whole in memory; the body as a whole is bounded by [`BODY_LIMIT`]
//! and every other field by [`FIELD_LIMIT`].
//!
//! The request path names no project, so the server's guard only checks
//! that the caller may write something in the ecosystem; the project comes
//! from the form, and this handler asks the [`Gatekeeper`] about it before
//! anything is stored, which is why `name` must come before `content` (as
//! twine and uv send it).
//!
//! An upload becomes the same entries a collect makes (`f:` with its meta,
//! and for a wheel the `m:` core-metadata file read from the wheel), so the
//! project page lists uploaded files next to imported ones. A filename that
//! is already there is refused with 400 "File already exists", the answer
//! twine's `--skip-existing` recognises.
//!
//! [`Gatekeeper`]: airlift_ecosystem::Gatekeeper

use std::io::Write as _;
use std::sync::Arc;

use airlift_core::Digest;
use airlift_ecosystem::{Action, Caller, Scope, Services};
use airlift_http::plain;
use airlift_store::{Entry, Store};
use axum::Router;
use axum::extract::{DefaultBodyLimit, Multipart, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use bytes::Bytes;

use crate::index::{FILE, FileMeta, METADATA};
use crate::requirement::{normalize, valid_name};
use crate::version::Version;

/// Largest upload body accepted (the file and every field together).
pub const BODY_LIMIT: usize = 1 << 30;
/// Largest metadata field accepted (a long description fits).
pub const FIELD_LIMIT: usize = 1 << 20;

#[derive(Clone)]
struct UploadState {
    services: Services,
    /// Serializes the check for an existing file with the commit that
    /// adds one, so two uploads of one filename cannot both succeed.
    commit: Arc<tokio::sync::Mutex<()>>,
}

/// The upload routes, to be nested under `/pypi`.
pub fn router(services: Services) -> Router {
    Router::new()
        .route("/legacy/", post(upload))
        .route("/legacy", post(upload))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(UploadState {
            services,
            commit: Arc::new(tokio::sync::Mutex::new(())),
        })
}

/// Why an upload is refused, with its status.
struct Refused(StatusCode, String);

impl Refused {
    fn bad(message: impl Into<String>) -> Self {
        Self(StatusCode::BAD_REQUEST, message.into())
    }
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        plain(self.0, &self.1)
    }
}

impl From<airlift_store::StoreError> for Refused {
    fn from(e: airlift_store::StoreError) -> Self {
        tracing::error!("pypi upload: {e}");
        Self(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("the upload could not be stored: {e}"),
        )
    }
}

/// The form fields an upload needs, as they arrive.
#[derive(Default)]
struct Form {
    action: Option<String>,
    protocol_version: Option<String>,
    name: Option<String>,
    version: Option<String>,
    filetype: Option<String>,
    sha256: Option<String>,
    requires_python: Option<String>,
}

/// Why the blob of the file part could not be written.
enum WriteFailure {
    Store(airlift_store::StoreError),
    Io(std::io::Error),
    /// The body broke off: nothing is committed.
    Aborted,
}

/// The stored file part.
struct Stored {
    filename: String,
    digest: Digest,
    size: u64,
}

async fn upload(State(state): State<UploadState>, multipart: Multipart) -> Response {
    match receive(&state, multipart).await {
        Ok(file) => plain(StatusCode::OK, &format!("OK: stored {file}")),
        Err(refused) => refused.into_response(),
    }
}

async fn receive(state: &UploadState, mut multipart: Multipart) -> Result<String, Refused> {
    let mut form = Form::default();
    let mut stored: Option<Stored> = None;
    while let Some(mut field) = multipart
        .next_field()
        .await
        .map_err(|e| Refused::bad(format!("the upload is not a readable multipart form: {e}")))?
    {
        let name = field.name().unwrap_or_default().to_owned();
        if name == "content" {
            if stored.is_some() {
                return Err(Refused::bad("more than one `content` part"));
            }
            let filename = field
                .file_name()
                .map(str::to_owned)
                .ok_or_else(|| Refused::bad("the `content` part has no filename"))?;
            let project = check_form(&form, &filename)?;
            authorize(&state.services, &project)?;
            let expected = form.sha256.as_deref().map(parse_sha256).transpose()?;
            stored = Some(store_file(&state.services.store, &mut field, filename, expected).await?);
            continue;
        }
        let mut value = Vec::new();
        while let Some(chunk) = field
            .chunk()
            .await
            .map_err(|e| Refused::bad(format!("field {name:?} could not be read: {e}")))?
        {
            if value.len() + chunk.len() > FIELD_LIMIT {
                return Err(Refused(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!("field {name:?} is larger than {FIELD_LIMIT} bytes"),
                ));
            }
            value.extend_from_slice(&chunk);
        }
        let slot = match name.as_str() {
            ":action" => &mut form.action,
            "protocol_version" => &mut form.protocol_version,
            "name" => &mut form.name,
            "version" => &mut form.version,
            "filetype" => &mut form.filetype,
            "sha256_digest" => &mut form.sha256,
            "requires_python" => &mut form.requires_python,
            _ => continue,
        };
        let text = String::from_utf8(value)
            .map_err(|_| Refused::bad(format!("field {name:?} is not UTF-8")))?;
        *slot = Some(text.trim().to_owned());
    }
    let Some(file) = stored else {
        return Err(Refused::bad("the upload has no `content` part (the file)"));
    };
    // Fields after the file are checked again; the digest may come late.
    let project = check_form(&form, &file.filename)?;
    match form.sha256.as_deref().map(parse_sha256).transpose()? {
        Some(expected) if expected != file.digest => {
            return Err(Refused::bad(format!(
                "the file hashes to sha256:{}, not the sha256_digest given ({})",
                file.digest.hex(),
                expected.hex()
            )));
        }
        Some(_) => {}
        None => return Err(Refused::bad("sha256_digest is required")),
    }
    commit(state, &form, &project, file).await
}

/// Checks the form fields needed before the file is accepted and that the
/// filename belongs to `name` and `version`; returns the normalized project.
fn check_form(form: &Form, filename: &str) -> Result<String, Refused> {
    match form.action.as_deref() {
        Some("file_upload") => {}
        Some(other) => {
            return Err(Refused::bad(format!(
                "unsupported :action {other:?} (only file_upload)"
            )));
        }
        None => return Err(Refused::bad(":action must come before the file")),
    }
    if form.protocol_version.as_deref().is_some_and(|v| v != "1") {
        return Err(Refused::bad("unsupported protocol_version (only 1)"));
    }
    let name = form
        .name
        .as_deref()
        .ok_or_else(|| Refused::bad("`name` must come before the file"))?;
    let version = form
        .version
        .as_deref()
        .ok_or_else(|| Refused::bad("`version` must come before the file"))?;
    if !valid_name(name) {
        return Err(Refused::bad(format!(
            "{name:?} is not a valid project name"
        )));
    }
    let Some(parsed) = Version::parse(version) else {
        return Err(Refused::bad(format!("{version:?} is not a valid version")));
    };
    let project = normalize(name);
    check_filename(filename, &project, &parsed, form.filetype.as_deref())?;
    Ok(project)
}

/// A wheel's or sdist's filename must name `project` (normalized) and
/// `version` (by PEP 440 equality), and match `filetype` when given.
fn check_filename(
    filename: &str,
    project: &str,
    version: &Version,
    filetype: Option<&str>,
) -> Result<(), Refused> {
    if filename.is_empty()
        || filename.starts_with('.')
        || filename.contains(['/', '\\', '\0'])
        || filename.len() > 255
    {
        return Err(Refused::bad(format!("invalid filename {filename:?}")));
    }
    let (kind, stem_name, stem_version) = if let Some(stem) = filename.strip_suffix(".whl") {
        // {name}-{version}(-{build})?-{python}-{abi}-{platform}.whl
        let parts: Vec<&str> = stem.split('-').collect();
        if parts.len() != 5 && parts.len() != 6 {
            return Err(Refused::bad(format!("invalid wheel filename {filename:?}")));
        }
        ("bdist_wheel", parts[0], parts[1])
    } else if let Some(stem) = filename
        .strip_suffix(".tar.gz")
        .or_else(|| filename.strip_suffix(".zip"))
    {
        let Some((name, version)) = stem.rsplit_once('-') else {
            return Err(Refused::bad(format!("invalid sdist filename {filename:?}")));
        };
        ("sdist", name, version)
    } else {
        return Err(Refused::bad(format!(
            "invalid file extension in {filename:?}: only wheels (.whl) and sdists (.tar.gz, .zip) are accepted"
        )));
    };
    if let Some(filetype) = filetype
        && filetype != kind
    {
        return Err(Refused::bad(format!(
            "{filename:?} is not a {filetype} (it is a {kind})"
        )));
    }
    if normalize(stem_name) != project {
        return Err(Refused::bad(format!(
            "the filename {filename:?} does not name the project {project:?}"
        )));
    }
    if Version::parse(stem_version).as_ref() != Some(version) {
        return Err(Refused::bad(format!(
            "the filename {filename:?} does not carry the version {}",
            version.as_str()
        )));
    }
    Ok(())
}

fn parse_sha256(text: &str) -> Result<Digest, Refused> {
    Digest::from_hex(&text.to_ascii_lowercase())
        .map_err(|_| Refused::bad(format!("sha256_digest {text:?} is not 64 hex digits")))
}

/// Asks the gatekeeper whether the caller may write `project`.
fn authorize(services: &Services, project: &str) -> Result<(), Refused> {
    let Some(gatekeeper) = &services.gatekeeper else {
        return Ok(());
    };
    let caller = Caller::current().unwrap_or_default();
    gatekeeper
        .authorize(
            &caller,
            crate::ECOSYSTEM,
            &Scope::Name(project.to_owned()),
            Action::Write,
        )
        .map_err(|(status, message)| Refused(status, message))
}

/// Streams the file part into a staged blob on a blocking thread, through
/// a small channel so that a slow disk slows the client, not memory. A
/// body that breaks off is never committed: the writer is told to drop
/// its staged file (`None` on the channel).
async fn store_file(
    store: &Store,
    field: &mut axum::extract::multipart::Field<'_>,
    filename: String,
    expected: Option<Digest>,
) -> Result<Stored, Refused> {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Option<Bytes>>(8);
    let blobs = store.blobs.clone();
    let writer = tokio::task::spawn_blocking(move || -> Result<(Digest, u64), WriteFailure> {
        let mut writer = blobs.writer().map_err(WriteFailure::Store)?;
        while let Some(chunk) = rx.blocking_recv() {
            let Some(chunk) = chunk else {
                return Err(WriteFailure::Aborted);
            };
            writer.write_all(&chunk).map_err(WriteFailure::Io)?;
        }
        writer
            .commit(expected.as_ref())
            .map_err(WriteFailure::Store)
    });
    let mut read_error = None;
    loop {
        match field.chunk().await {
            Ok(Some(chunk)) => {
                if tx.send(Some(chunk)).await.is_err() {
                    break; // The writer failed; its error is below.
                }
            }
            Ok(None) => break,
            Err(e) => {
                let _ = tx.send(None).await;
                read_error = Some(e);
                break;
            }
        }
    }
    drop(tx);
    let written = writer
        .await
        .map_err(|e| Refused(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    if let Some(e) = read_error {
        let status = if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            StatusCode::PAYLOAD_TOO_LARGE
        } else {
            StatusCode::BAD_REQUEST
        };
        return Err(Refused(status, format!("the file could not be read: {e}")));
    }
    let (digest, size) = written.map_err(|failure| match failure {
        WriteFailure::Store(airlift_store::StoreError::DigestMismatch { actual, .. }) => {
            Refused::bad(format!(
                "the file hashes to sha256:{}, not the sha256_digest given",
                actual.hex()
            ))
        }
        WriteFailure::Store(e) => {
            tracing::error!("pypi upload of {filename}: {e}");
            Refused(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("the file could not be stored: {e}"),
            )
        }
        WriteFailure::Aborted => Refused::bad("the file part broke off"),
        WriteFailure::Io(e) => {
            tracing::error!("pypi upload of {filename}: {e}");
            Refused(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("the file could not be stored: {e}"),
            )
        }
    })?;
    Ok(Stored {
        filename,
        digest,
        size,
    })
}

/// Reads a wheel's core metadata into its own blob, checks that it names
/// the project and version, and commits the entries.
async fn commit(
    state: &UploadState,
    form: &Form,
    project: &str,
    file: Stored,
) -> Result<String, Refused> {
    let store = state.services.store.clone();
    let wheel = file.filename.ends_with(".whl");
    let digest = file.digest;
    let metadata = if wheel {
        let read =
            tokio::task::spawn_blocking(move || -> Result<(Digest, u64, Vec<u8>), String> {
                let mut blob = store.blobs.open(&digest).map_err(|e| e.to_string())?;
                let raw = crate::metadata::wheel_metadata(&mut blob)
                    .map_err(|e| format!("the wheel cannot be read: {e}"))?
                    .ok_or("the wheel has no .dist-info/METADATA")?;
                let metadata_digest = Digest::of(&raw);
                let mut writer = store.blobs.writer().map_err(|e| e.to_string())?;
                writer.write_all(&raw).map_err(|e| e.to_string())?;
                writer
                    .commit(Some(&metadata_digest))
                    .map_err(|e| e.to_string())?;
                Ok((metadata_digest, raw.len() as u64, raw))
            })
            .await
            .map_err(|e| Refused(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
            .map_err(Refused::bad)?;
        let (metadata_digest, metadata_size, raw) = read;
        let parsed = crate::metadata::Metadata::parse(&raw)
            .map_err(|e| Refused::bad(format!("the wheel's METADATA: {e}")))?;
        if normalize(&parsed.name) != project {
            return Err(Refused::bad(format!(
                "the wheel's METADATA names the project {:?}, not {project:?}",
                parsed.name
            )));
        }
        Some((metadata_digest, metadata_size, parsed))
    } else {
        None
    };
    let version = form.version.clone().unwrap_or_default();
    let key = format!("{FILE}{project}/{}", file.filename);
    let mut meta = FileMeta {
        version,
        requires_python: form.requires_python.clone().filter(|s| !s.is_empty()),
        yanked: None,
        upload_time: Some(now_rfc3339()),
        metadata: metadata.as_ref().map(|(d, _, _)| *d),
        ..FileMeta::default()
    };
    if let Some((_, _, parsed)) = &metadata {
        meta.describe(parsed);
    }
    let mut upserts = vec![Entry {
        ecosystem: crate::ECOSYSTEM.into(),
        key: key.clone(),
        digest: file.digest,
        size: file.size,
        meta: serde_json::to_value(&meta).unwrap_or_default(),
    }];
    if let Some((digest, size, _)) = metadata {
        upserts.push(Entry {
            ecosystem: crate::ECOSYSTEM.into(),
            key: format!("{METADATA}{project}/{}.metadata", file.filename),
            digest,
            size,
            meta: serde_json::Value::Object(Default::default()),
        });
    }
    let _serial = state.commit.lock().await;
    let store = state.services.store.clone();
    let lookup = key.clone();
    let exists = tokio::task::spawn_blocking(move || -> Result<bool, airlift_store::StoreError> {
        Ok(match store.meta.current()? {
            Some(generation) => store
                .meta
                .entry(generation.id, crate::ECOSYSTEM, &lookup)?
                .is_some(),
            None => false,
        })
    })
    .await
    .map_err(|e| Refused(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))??;
    if exists {
        return Err(Refused::bad(format!(
            "File already exists ({:?}): a file is never replaced; publish a new version",
            file.filename
        )));
    }
    airlift_ecosystem::publish::commit_change(
        &state.services,
        crate::ECOSYSTEM,
        "registry-change",
        format!("upload {}", file.filename),
        upserts,
        vec![],
    )
    .await
    .map_err(|e| {
        tracing::error!("pypi upload of {}: {e}", file.filename);
        Refused(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
    })?;
    Ok(file.filename)
}

/// The current time as PEP 700's `upload-time` (RFC 3339, UTC).
fn now_rfc3339() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (days, rest) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(filename: &str, project: &str, version: &str) -> Result<(), String> {
        let version = Version::parse(version).expect("version");
        check_filename(filename, project, &version, None).map_err(|r| r.1)
    }

    #[test]
    fn filenames_must_name_the_project_and_version() {
        check("corp_tool-0.1.0-py3-none-any.whl", "corp-tool", "0.1.0").expect("wheel");
        check("corp_tool-0.1-py3-none-any.whl", "corp-tool", "0.1.0").expect("equal versions");
        check("corp_tool-0.1.0.tar.gz", "corp-tool", "0.1.0").expect("sdist");
        check("Corp.Tool-0.1.0.zip", "corp-tool", "0.1.0").expect("legacy sdist");
        assert!(check("other_tool-0.1.0-py3-none-any.whl", "corp-tool", "0.1.0").is_err());
        assert!(check("corp_tool-0.2.0.tar.gz", "corp-tool", "0.1.0").is_err());
        assert!(check("corp_tool-0.1.0.exe", "corp-tool", "0.1.0").is_err());
        assert!(check("../corp_tool-0.1.0.tar.gz", "corp-tool", "0.1.0").is_err());
        assert!(check("corp_tool-0.1.0-any.whl", "corp-tool", "0.1.0").is_err());
        let v = Version::parse("0.1.0").expect("version");
        assert!(
            check_filename(
                "corp_tool-0.1.0.tar.gz",
                "corp-tool",
                &v,
                Some("bdist_wheel")
            )
            .is_err()
        );
    }

    #[test]
    fn upload_time_is_rfc3339() {
        let t = now_rfc3339();
        assert_eq!(t.len(), 20, "{t}");
        assert!(t.starts_with("20") && t.ends_with('Z'), "{t}");
    }
}
