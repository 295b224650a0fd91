//! OCI image manifests and indexes as a registry push or an upstream pull
//! reads them: the JSON, its media type, the index metadata, and every
//! descriptor's digest.
#![no_main]

use airlift_oci::{index, names};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Ok(parsed) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let media_type = parsed["mediaType"]
        .as_str()
        .unwrap_or("application/vnd.oci.image.manifest.v1+json");
    let _ = index::manifest_meta(&parsed, media_type);
    for (_field, digest) in index::referenced_blobs(&parsed) {
        if let Some(text) = digest {
            let _ = names::parse_digest(&text);
            let _ = names::parse_reference(&text);
        }
    }
    if let Some(list) = parsed.get("manifests").and_then(Value::as_array) {
        for descriptor in list {
            if let Some(text) = descriptor["digest"].as_str() {
                let _ = names::parse_digest(text);
            }
        }
    }
    if let Some(subject) = parsed["subject"]["digest"].as_str() {
        let _ = names::parse_digest(subject);
    }
    for (key, value) in parsed["annotations"].as_object().into_iter().flatten() {
        let _ = names::valid_tag(key);
        let _ = value.as_str().map(names::valid_repository);
    }
});
