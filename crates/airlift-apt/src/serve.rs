//! The apt repositories under `/apt/<archive>/`:
//!
//! - `dists/<suite>/InRelease`, `Release`, `Release.gpg`: regenerated for
//!   the carried subset, signed with the site's key, `Date` the generation's
//!   time and `Valid-Until` that of signing plus the validity (re-signed
//!   when half of it has passed);
//! - `dists/<suite>/<component>/binary-<arch>/Packages` (plain, `.gz`,
//!   `.xz`) and `by-hash/SHA256/<digest>` (this generation's and the
//!   previous one's, so a client that read the old Release still finds its
//!   files); `Architecture: all` packages are listed for every architecture;
//! - every other path: the `.deb` at its upstream `Filename`;
//! - `/apt/airlift.asc`: the public key (check its fingerprint with
//!   `airlift apt key` before trusting it).
//!
//! Index files are written once per generation into the blob store, as
//! they stream out of their compressors, and served from there; a re-sign
//! only signs a new Release over the same files. Each suite has its own
//! lock, so building one never holds up another.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::sync::Arc;

use airlift_core::Digest;
use airlift_http::Blob;
use airlift_http::plain;
use airlift_pgp::SigningKey;
use airlift_store::{Store, StoreError};
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::release::format_date;

/// The site's signing key and how long a signed Release stays valid.
pub struct Signer {
    /// The key.
    pub key: SigningKey,
    /// `Valid-Until` minus the signing time.
    pub valid_for: jiff::SignedDuration,
}

#[derive(Clone)]
struct AppState {
    store: Store,
    signer: Option<Arc<Signer>>,
    /// One lock per suite: a build of one never waits on another's.
    cache: Arc<std::sync::Mutex<HashMap<(String, String), SuiteSlot>>>,
}

/// One suite's state behind its own lock.
type SuiteSlot = Arc<tokio::sync::Mutex<Suite>>;

/// What one suite serves: the current build and the previous one.
#[derive(Default, Clone)]
struct Suite {
    current: Option<Arc<Built>>,
    previous: Option<Arc<Built>>,
}

struct Built {
    generation: u64,
    signed_at: i64,
    /// Release fields before the hashes, without Valid-Until.
    header: String,
    release: String,
    in_release: String,
    release_gpg: String,
    /// Path under `dists/<suite>/` → blob.
    files: BTreeMap<String, (Digest, u64)>,
}

impl Built {
    fn by_hash(&self, dir: &str, digest: &Digest) -> Option<(Digest, u64)> {
        self.files
            .iter()
            .find(|(path, (d, _))| {
                d == digest && path.rsplit_once('/').map(|(d, _)| d) == Some(dir)
            })
            .map(|(_, v)| *v)
    }
}

/// The apt router, to be nested under `/apt`.
pub fn router(store: Store, signer: Option<Arc<Signer>>) -> Router {
    Router::new()
        .route("/", get(archives).with_state(store.clone()))
        .route("/airlift.asc", get(public_key))
        .route("/{archive}", get(archives).with_state(store.clone()))
        .route("/{archive}/{*path}", get(file))
        .with_state(AppState {
            store,
            signer,
            cache: Arc::default(),
        })
}

/// `GET /apt/` and `GET /apt/<archive>/` (with their slash, which the
/// nested router cannot see), merged at the server root.
pub fn root_routes(store: Store) -> Router {
    Router::new()
        .route("/apt/", get(archives))
        .route("/apt/{archive}/", get(archives))
        .with_state(store)
}

/// `GET /apt/` and `GET /apt/<archive>/`: the archives and suites served.
async fn archives(State(store): State<Store>) -> Response {
    airlift_http::listing(store, crate::ECOSYSTEM, |entries| {
        let mut text = String::from("signed apt repositories served here (archive: suites):\n");
        let mut suites: std::collections::BTreeMap<&str, Vec<&str>> = Default::default();
        for entry in entries {
            if let Some((archive, suite)) = entry.key.split_once("/dists/") {
                suites.entry(archive).or_default().push(suite);
            }
        }
        for (archive, list) in &suites {
            text.push_str(&format!("/apt/{archive}/: {}\n", list.join(" ")));
        }
        text.push_str("the signing key is /apt/airlift.asc; `airlift client-config apt --url <this server>` prints a sources file\n");
        text
    })
    .await
}

async fn public_key(State(state): State<AppState>) -> Response {
    match &state.signer {
        Some(signer) => (
            [(header::CONTENT_TYPE, "application/pgp-keys")],
            signer.key.public_key_armored(),
        )
            .into_response(),
        None => plain(StatusCode::NOT_FOUND, "this server has no apt signing key"),
    }
}

async fn file(
    State(state): State<AppState>,
    Path((archive, path)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let Some(rest) = path.strip_prefix("dists/") else {
        return airlift_http::serve_entry(
            state.store.clone(),
            crate::ECOSYSTEM,
            format!("{archive}/{path}"),
            "application/vnd.debian.binary-package",
            &headers,
            plain(StatusCode::NOT_FOUND, "no such package file"),
        )
        .await;
    };
    let Some((suite, inner)) = rest.split_once('/') else {
        return plain(StatusCode::NOT_FOUND, "not found");
    };
    let suite_state = match built(&state, &archive, suite).await {
        Ok(Some(s)) => s,
        Ok(None) => return plain(StatusCode::NOT_FOUND, "no such archive or suite"),
        Err(response) => return response,
    };
    let Some(current) = suite_state.current.clone() else {
        return plain(StatusCode::NOT_FOUND, "no such suite");
    };
    let text = |body: &str| {
        (
            [
                (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
                (header::CACHE_CONTROL, "no-cache"),
            ],
            body.to_owned(),
        )
            .into_response()
    };
    match inner {
        "InRelease" => return text(&current.in_release),
        "Release" => return text(&current.release),
        "Release.gpg" => return text(&current.release_gpg),
        _ => {}
    }
    let found = if let Some((dir, hex)) = inner.split_once("/by-hash/SHA256/") {
        let Ok(digest) = Digest::from_hex(hex) else {
            return plain(StatusCode::NOT_FOUND, "no such index file");
        };
        let mut hit = current.by_hash(dir, &digest).or_else(|| {
            suite_state
                .previous
                .as_ref()
                .and_then(|p| p.by_hash(dir, &digest))
        });
        // After a restart the previous generation's files are not built
        // yet: a client that read its Release just before still finds them.
        if hit.is_none()
            && suite_state.previous.is_none()
            && let Some(previous) =
                previous_build(&state, &archive, suite, current.generation).await
        {
            hit = previous.by_hash(dir, &digest);
        }
        hit
    } else {
        current.files.get(inner).copied()
    };
    let Some((digest, size)) = found else {
        return plain(StatusCode::NOT_FOUND, "no such index file");
    };
    let content_type = if inner.ends_with(".gz") {
        "application/gzip"
    } else if inner.ends_with(".xz") {
        "application/x-xz"
    } else if inner.contains("/by-hash/") {
        "application/octet-stream"
    } else {
        "text/plain; charset=utf-8"
    };
    let blob = Blob {
        path: state.store.blobs.local_path(&digest),
        digest,
        size,
        modified: None,
        content_type: content_type.into(),
    };
    airlift_http::serve_blob(blob, &headers, HeaderMap::new()).await
}

/// The suite's build for the current generation, made when missing,
/// stale or half-way to expiry.
async fn built(state: &AppState, archive: &str, suite: &str) -> Result<Option<Suite>, Response> {
    let store = state.store.clone();
    let generation = airlift_http::read_current(store, "apt index lookup", |_, generation| {
        Ok(Some(generation.clone()))
    })
    .await
    .map_err(IntoResponse::into_response)?;
    let Some(generation) = generation else {
        return Ok(None);
    };
    let Some(signer) = state.signer.clone() else {
        return Err(plain(
            StatusCode::SERVICE_UNAVAILABLE,
            "this server has no apt signing key; run `airlift apt key` on it and restart",
        ));
    };
    let key = (archive.to_owned(), suite.to_owned());
    let slot = {
        let mut cache = state
            .cache
            .lock()
            .map_err(|_| plain(StatusCode::INTERNAL_SERVER_ERROR, "index unavailable"))?;
        cache.entry(key).or_default().clone()
    };
    let mut entry = slot.lock().await;
    // The built files are blobs no index entry references, so `airlift gc`
    // removes them once its grace period has passed: a build whose files
    // are gone is made again (the same bytes, stored fresh). A previous
    // build is dropped, and made again on a by-hash miss.
    if entry
        .current
        .as_ref()
        .is_some_and(|b| !files_stored(&state.store, b))
    {
        entry.current = None;
    }
    if entry
        .previous
        .as_ref()
        .is_some_and(|b| !files_stored(&state.store, b))
    {
        entry.previous = None;
    }
    let now = jiff::Timestamp::now().as_second();
    let half = signer.valid_for.as_secs() / 2;
    match entry.current.clone() {
        Some(b) if b.generation == generation.id && now - b.signed_at < half => {}
        // Same content, the signature half-way to expiry: sign again only.
        Some(b) if b.generation == generation.id => {
            entry.current = Some(Arc::new(sign(
                &signer,
                &b.header,
                b.files.clone(),
                b.generation,
            )));
        }
        _ => {
            let store = state.store.clone();
            let (archive, suite) = (archive.to_owned(), suite.to_owned());
            let made = tokio::task::spawn_blocking(move || {
                build(
                    &store,
                    &signer,
                    &archive,
                    &suite,
                    generation.id,
                    generation.created_at,
                )
            })
            .await
            .map_err(|_| plain(StatusCode::INTERNAL_SERVER_ERROR, "index build failed"))?
            .map_err(|e| {
                tracing::error!("apt index build: {e}");
                plain(StatusCode::INTERNAL_SERVER_ERROR, "index build failed")
            })?;
            let Some(made) = made else {
                return Ok(None);
            };
            if let Some(old) = entry.current.replace(Arc::new(made)) {
                entry.previous = Some(old);
            }
        }
    }
    Ok(Some(entry.clone()))
}

/// Whether every file of a build is still in the store.
fn files_stored(store: &Store, built: &Built) -> bool {
    built
        .files
        .values()
        .all(|(digest, _)| matches!(store.blobs.size(digest), Ok(Some(_))))
}

/// Builds the generation before `current` for a suite whose previous
/// build is not in memory (after a restart), and keeps it as previous.
async fn previous_build(
    state: &AppState,
    archive: &str,
    suite: &str,
    current: u64,
) -> Option<Arc<Built>> {
    let signer = state.signer.clone()?;
    let store = state.store.clone();
    let (a, s) = (archive.to_owned(), suite.to_owned());
    let made = tokio::task::spawn_blocking(move || {
        let before = store
            .meta
            .generations()
            .ok()?
            .into_iter()
            .filter(|g| g.id < current)
            .max_by_key(|g| g.id)?;
        build(&store, &signer, &a, &s, before.id, before.created_at)
            .ok()
            .flatten()
    })
    .await
    .ok()
    .flatten()
    .map(Arc::new)?;
    let slot = state
        .cache
        .lock()
        .ok()?
        .get(&(archive.to_owned(), suite.to_owned()))
        .cloned()?;
    let mut entry = slot.lock().await;
    if entry
        .current
        .as_ref()
        .is_some_and(|c| c.generation == current)
        && entry.previous.is_none()
    {
        entry.previous = Some(made.clone());
    }
    Some(made)
}

/// Writes to several writers at once.
struct Tee<'a>(Vec<&'a mut dyn Write>);

impl Write for Tee<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        for w in &mut self.0 {
            w.write_all(buf)?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn io(path: &str) -> impl Fn(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        action: "writing the apt index",
        path: path.into(),
        source,
    }
}

/// Builds and signs one suite of one archive, or `None` when the
/// generation does not carry it.
fn build(
    store: &Store,
    signer: &Signer,
    archive: &str,
    suite: &str,
    generation: u64,
    created_at: i64,
) -> Result<Option<Built>, StoreError> {
    let Some(head) = store.meta.entry(
        generation,
        crate::ECOSYSTEM,
        &format!("{archive}/dists/{suite}"),
    )?
    else {
        return Ok(None);
    };
    let list = |name: &str| -> Vec<String> {
        head.meta
            .get(name)
            .and_then(|v| v.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    let components = list("components");
    let architectures = list("architectures");
    let packages =
        store
            .meta
            .entries_with_prefix(generation, crate::ECOSYSTEM, &format!("{archive}/"))?;
    let mut files = BTreeMap::new();
    for component in &components {
        let home = format!("{suite}/{component}");
        for arch in &architectures {
            let mut stanzas: Vec<(&str, &str, &str)> = packages
                .iter()
                .filter(|e| {
                    e.meta
                        .get("homes")
                        .and_then(|h| h.as_array())
                        .is_some_and(|h| h.iter().any(|x| x.as_str() == Some(home.as_str())))
                })
                .filter_map(|e| {
                    let a = e.meta.get("architecture")?.as_str()?;
                    (a == arch || a == "all").then_some(())?;
                    Some((
                        e.meta.get("package")?.as_str()?,
                        e.meta.get("version")?.as_str()?,
                        e.meta.get("stanza")?.as_str()?,
                    ))
                })
                .collect();
            stanzas.sort_by(|a, b| a.0.cmp(b.0).then_with(|| crate::version::compare(a.1, b.1)));
            let dir = format!("{component}/binary-{arch}");
            let path = format!("{dir}/Packages");
            let mut plain_w = store.blobs.writer()?;
            let mut gz_w = flate2::write::GzEncoder::new(
                store.blobs.writer()?,
                flate2::Compression::default(),
            );
            let mut xz_w = crate::xz::writer(store.blobs.writer()?, 6).map_err(io(&path))?;
            {
                let mut tee = Tee(vec![&mut plain_w, &mut gz_w, &mut xz_w]);
                for (_, _, stanza) in &stanzas {
                    // Upstream's MD5 and SHA-1 sums are left out: apt
                    // checks the SHA256, and nothing weaker is published.
                    for line in stanza.lines() {
                        if line.starts_with("MD5sum:") || line.starts_with("SHA1:") {
                            continue;
                        }
                        tee.write_all(line.as_bytes()).map_err(io(&path))?;
                        tee.write_all(b"\n").map_err(io(&path))?;
                    }
                    tee.write_all(b"\n").map_err(io(&path))?;
                }
            }
            files.insert(path.clone(), plain_w.commit(None)?);
            files.insert(
                format!("{path}.gz"),
                gz_w.finish().map_err(io(&path))?.commit(None)?,
            );
            files.insert(
                format!("{path}.xz"),
                xz_w.finish().map_err(io(&path))?.commit(None)?,
            );
        }
    }
    let field = |name: &str| {
        head.meta
            .get("fields")
            .and_then(|f| f.get(name))
            .and_then(|v| v.as_str())
            .map(str::to_owned)
    };
    let now = jiff::Timestamp::now();
    let date = jiff::Timestamp::from_second(created_at)
        .unwrap_or(now)
        .min(now);
    let mut header = String::new();
    for (name, value) in [
        ("Origin", field("origin")),
        ("Label", field("label")),
        ("Suite", field("suite").or_else(|| Some(suite.to_owned()))),
        ("Version", field("version")),
        ("Codename", field("codename")),
        ("Date", Some(format_date(date))),
    ] {
        if let Some(value) = value {
            header.push_str(&format!("{name}: {}\n", value.replace('\n', " ")));
        }
    }
    // Valid-Until comes here, at signing.
    header.push('\0');
    for (name, value) in [
        ("Acquire-By-Hash", "yes".to_owned()),
        ("Architectures", architectures.join(" ")),
        ("Components", components.join(" ")),
        (
            "Description",
            format!(
                "{} (the subset carried by airlift, generation {generation})",
                field("description").unwrap_or_else(|| suite.to_owned())
            ),
        ),
    ] {
        header.push_str(&format!("{name}: {}\n", value.replace('\n', " ")));
    }
    Ok(Some(sign(signer, &header, files, generation)))
}

/// The Release text for `files` under `header` (its `\0` marks where
/// Valid-Until goes), signed now.
fn sign(
    signer: &Signer,
    header: &str,
    files: BTreeMap<String, (Digest, u64)>,
    generation: u64,
) -> Built {
    let now = jiff::Timestamp::now();
    let until = now + signer.valid_for;
    let mut release = header.replace('\0', &format!("Valid-Until: {}\n", format_date(until)));
    release.push_str("SHA256:\n");
    let width = files
        .values()
        .map(|(_, s)| s.to_string().len())
        .max()
        .unwrap_or(1);
    for (path, (digest, size)) in &files {
        release.push_str(&format!(" {} {size:>width$} {path}\n", digest.hex()));
    }
    let time = u32::try_from(now.as_second()).unwrap_or(u32::MAX);
    Built {
        generation,
        signed_at: now.as_second(),
        header: header.to_owned(),
        in_release: signer.key.sign_cleartext(&release, time),
        release_gpg: signer.key.sign_detached(release.as_bytes(), time),
        release,
        files,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use airlift_store::{Entry, NewGeneration};

    fn commit(store: &Store, debs: &[&str]) {
        let mut entries = vec![Entry {
            ecosystem: crate::ECOSYSTEM.into(),
            key: "arc/dists/s".into(),
            digest: Digest::of(b"release"),
            size: 7,
            meta: serde_json::json!({
                "components": ["main"],
                "architectures": ["amd64"],
                "fields": {"origin": "Test"},
            }),
        }];
        for name in debs {
            entries.push(Entry {
                ecosystem: crate::ECOSYSTEM.into(),
                key: format!("arc/pool/{name}_1_amd64.deb"),
                digest: Digest::of(name.as_bytes()),
                size: 1,
                meta: serde_json::json!({
                    "stanza": format!("Package: {name}\nVersion: 1\nArchitecture: amd64\nFilename: pool/{name}_1_amd64.deb"),
                    "package": name,
                    "version": "1",
                    "architecture": "amd64",
                    "homes": ["s/main"],
                }),
            });
        }
        store
            .meta
            .commit(NewGeneration {
                source: "test".into(),
                created_at: jiff::Timestamp::now().as_second(),
                entries,
                state: Vec::new(),
            })
            .expect("commit");
    }

    #[tokio::test]
    async fn stale_signatures_are_renewed_and_the_previous_generation_stays_reachable() {
        let dir = tempfile::tempdir().expect("dir");
        let store = Store::open_embedded(dir.path()).expect("store");
        commit(&store, &["one"]);
        let (key, _) = SigningKey::generate("t <t@example.com>", 1_700_000_000).expect("key");
        let state = AppState {
            store: store.clone(),
            signer: Some(Arc::new(Signer {
                key,
                valid_for: jiff::SignedDuration::from_secs(2),
            })),
            cache: Arc::default(),
        };
        let get = || async {
            built(&state, "arc", "s")
                .await
                .map_err(|_| "error response")
                .expect("builds")
                .expect("the suite exists")
        };
        let first = get().await.current.expect("built");
        let again = get().await.current.expect("built");
        assert!(Arc::ptr_eq(&first, &again), "fresh: served from the cache");
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
        let renewed = get().await.current.expect("built");
        assert_eq!(renewed.files, first.files, "a re-sign keeps the files");
        assert!(renewed.signed_at > first.signed_at);
        assert_ne!(renewed.in_release, first.in_release);
        assert!(
            renewed.release.contains("Origin: Test\n") && renewed.release.contains("Valid-Until: ")
        );

        commit(&store, &["one", "two"]);
        let next = get().await;
        let current = next.current.expect("built");
        let previous = next.previous.expect("kept");
        assert_eq!((current.generation, previous.generation), (2, 1));
        assert_eq!(previous.files, first.files);
        assert_ne!(current.files, first.files);
        let (path, (digest, _)) = first.files.iter().next().expect("a file");
        let dir = path.rsplit_once('/').expect("dir").0;
        assert!(current.by_hash(dir, digest).is_none() && previous.by_hash(dir, digest).is_some());

        // A restart forgets the previous build; a by-hash miss rebuilds it.
        let restarted = AppState {
            store: store.clone(),
            signer: state.signer.clone(),
            cache: Arc::default(),
        };
        let after = built(&restarted, "arc", "s")
            .await
            .map_err(|_| ())
            .expect("answers")
            .expect("suite");
        assert!(after.previous.is_none());
        let rebuilt = previous_build(
            &restarted,
            "arc",
            "s",
            after.current.expect("built").generation,
        )
        .await
        .expect("the generation before");
        assert_eq!(rebuilt.generation, 1);
        assert!(rebuilt.by_hash(dir, digest).is_some());
        let kept = built(&restarted, "arc", "s")
            .await
            .map_err(|_| ())
            .expect("answers")
            .expect("suite");
        assert_eq!(kept.previous.expect("kept now").generation, 1);
        // Garbage collection removes the built files (no entry references
        // them): the next request builds them again.
        let current = kept.current.expect("built");
        for (digest, _) in current.files.values() {
            store.blobs.remove(digest).expect("remove");
        }
        let again = built(&restarted, "arc", "s")
            .await
            .map_err(|_| ())
            .expect("answers")
            .expect("suite");
        let again = again.current.expect("rebuilt");
        assert_eq!(again.files, current.files, "the same files");
        for (digest, size) in again.files.values() {
            assert_eq!(store.blobs.size(digest).expect("size"), Some(*size));
        }
        assert!(
            built(&state, "arc", "nosuch")
                .await
                .map_err(|_| ())
                .expect("answers")
                .is_none()
        );
    }
}
