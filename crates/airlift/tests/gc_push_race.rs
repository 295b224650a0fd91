//! Pushes through the OCI registry (the router `airlift serve` mounts, in
//! process) while garbage collections run in another thread with a short
//! grace period: blobs are uploaded, tagged, pulled back, unlinked and
//! pushed again (the same bytes, so a push can land on a blob a collection
//! is removing). Afterwards every blob the index references is stored and
//! `fsck` is clean.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use airlift_core::Digest;
use airlift_store::Store;
use airlift_store::gc::{self, Retention};
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use tower::ServiceExt as _;

async fn send(
    router: &axum::Router,
    method: Method,
    uri: &str,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> (StatusCode, Vec<u8>) {
    let mut request = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::CONTENT_LENGTH, body.len());
    if let Some(content_type) = content_type {
        request = request.header(header::CONTENT_TYPE, content_type);
    }
    let response = router
        .clone()
        .oneshot(request.body(Body::from(body)).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 64 << 20)
        .await
        .unwrap();
    (status, bytes.to_vec())
}

async fn upload(router: &axum::Router, name: &str, data: &[u8]) -> Digest {
    let digest = Digest::of(data);
    let (status, body) = send(
        router,
        Method::POST,
        &format!("/v2/{name}/blobs/uploads/?digest={digest}"),
        Some("application/octet-stream"),
        data.to_vec(),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "{}",
        String::from_utf8_lossy(&body)
    );
    digest
}

/// One writer: `pushes` images to `team/app-<writer>`, each pulled back and
/// its layer link deleted afterwards, layers repeating every third push.
async fn writer(router: axum::Router, writer: usize, pushes: usize) {
    let name = format!("team/app-{writer}");
    for i in 0..pushes {
        let layer = format!("layer {writer} {}", i % 3).repeat(200).into_bytes();
        let config = format!("{{\"push\":{i},\"writer\":{writer}}}").into_bytes();
        let layer_digest = upload(&router, &name, &layer).await;
        let config_digest = upload(&router, &name, &config).await;
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": config_digest.to_string(),
                "size": config.len(),
            },
            "layers": [{
                "mediaType": "application/vnd.oci.image.layer.v1.tar",
                "digest": layer_digest.to_string(),
                "size": layer.len(),
            }],
        });
        let (status, body) = send(
            &router,
            Method::PUT,
            &format!("/v2/{name}/manifests/latest"),
            Some("application/vnd.oci.image.manifest.v1+json"),
            serde_json::to_vec(&manifest).unwrap(),
        )
        .await;
        assert_eq!(
            status,
            StatusCode::CREATED,
            "{}",
            String::from_utf8_lossy(&body)
        );
        let (status, pulled) = send(
            &router,
            Method::GET,
            &format!("/v2/{name}/blobs/{layer_digest}"),
            None,
            Vec::new(),
        )
        .await;
        assert_eq!(
            status,
            StatusCode::OK,
            "pull of push {i} of writer {writer}"
        );
        assert_eq!(pulled, layer, "pull of push {i} of writer {writer}");
        let (status, _) = send(
            &router,
            Method::DELETE,
            &format!("/v2/{name}/blobs/{layer_digest}"),
            None,
            Vec::new(),
        )
        .await;
        assert_eq!(status, StatusCode::ACCEPTED);
        // A moment between pushes, so that collections see every state.
        tokio::time::sleep(Duration::from_millis((i % 5) as u64 * 5)).await;
    }
}

/// Far longer than a push takes from upload to link, even in a debug build
/// on a loaded machine, and short enough that layers unlinked early in the
/// run are collected, and pushed again, while it runs.
const GRACE: Duration = Duration::from_millis(500);

#[test]
fn pushes_through_the_registry_racing_collections_keep_every_referenced_blob() {
    let home = tempfile::tempdir().unwrap();
    let layout = airlift_store::layout::Layout::new(home.path());
    let store = Store::open_embedded(home.path()).unwrap();
    let router = airlift_oci::serve::router(store, layout.uploads_dir());
    let done = Arc::new(AtomicBool::new(false));
    let removed = Arc::new(AtomicU64::new(0));
    let collector = {
        let (home, done, removed) = (home.path().to_path_buf(), done.clone(), removed.clone());
        std::thread::spawn(move || {
            let store = Store::open_embedded(&home).unwrap();
            let retention = Retention {
                keep_generations: 2,
                grace: GRACE,
            };
            let mut runs = 0u32;
            while !done.load(Ordering::Relaxed) {
                let report = gc::run(&store, &retention).unwrap();
                removed.fetch_add(report.blobs_removed, Ordering::Relaxed);
                runs += 1;
            }
            runs
        })
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let writers: Vec<_> = (0..3)
            .map(|w| tokio::spawn(writer(router.clone(), w, 40)))
            .collect();
        for handle in writers {
            handle.await.unwrap();
        }
    });
    done.store(true, Ordering::Relaxed);
    let runs = collector.join().unwrap();
    assert!(runs > 1, "the collections did not run during the pushes");
    let store = Store::open_embedded(home.path()).unwrap();
    let check = airlift_store::fsck(&store).unwrap();
    assert!(check.is_clean(), "{check:?}");
    for generation in store.meta.generations().unwrap() {
        for entry in store.meta.entries(generation.id, None).unwrap() {
            assert!(
                store.blobs.size(&entry.digest).unwrap().is_some(),
                "generation {} references {} ({}), which is gone",
                generation.id,
                entry.digest,
                entry.key
            );
        }
    }
    // The collections did collect: the layers unlinked last are removed
    // once the grace period has passed.
    std::thread::sleep(GRACE + Duration::from_millis(50));
    let last = gc::run(
        &store,
        &Retention {
            keep_generations: 2,
            grace: GRACE,
        },
    )
    .unwrap();
    assert!(
        removed.load(Ordering::Relaxed) + last.blobs_removed > 0,
        "nothing was ever collected: {last:?}"
    );
    assert!(airlift_store::fsck(&store).unwrap().is_clean());
}
