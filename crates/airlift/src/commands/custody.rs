//! `airlift custody`.

use super::*;

pub(crate) fn custody_sign(
    context: &Context,
    bundle: &Path,
    name: &str,
    to: &str,
    key: &Path,
    note: &str,
) -> Result<(), Failure> {
    let key = airlift_trust::KeyPair::load(key)?;
    let id = airlift_bundle::bundle_id(bundle)?;
    let chain = airlift_bundle::custody_chain_path(bundle);
    let subject_name = bundle
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let count = airlift_trust::custody::append(
        &chain,
        &key,
        &subject_name,
        &id.hex(),
        airlift_trust::custody::Handoff {
            from: name.to_owned(),
            to: to.to_owned(),
            time: now()?.to_string(),
            note: note.to_owned(),
            previous: None,
        },
    )?;
    let summary = serde_json::json!({
        "bundle_id": id.to_string(),
        "chain": chain,
        "handoff": count,
        "from": name,
        "to": to,
        "keyid": key.keyid(),
        "note": note,
    });
    context.audit("custody-sign", &summary)?;
    context.emit(&summary, || {
        format!(
            "hand-off {count}: {name} to {to}, signed into {} (bundle {id}); carry that file with the bundle",
            chain.display()
        )
    })
}

pub(crate) fn custody_policy(context: &Context, file: &Path) -> Result<(), Failure> {
    let policy =
        airlift_trust::policy::load_custody(file).map_err(|e| Failure::input(e.to_string()))?;
    let path = context.layout.custody_policy();
    let bytes = serde_json::to_vec_pretty(&policy).unwrap_or_default();
    write_output(&path, &bytes)?;
    let summary = serde_json::json!({
        "policy": path,
        "signers": policy.signers.keys().collect::<Vec<_>>(),
        "required": policy.required,
        "min_handoffs": policy.min_handoffs,
        "continuity": policy.continuity,
    });
    context.audit("custody-policy", &summary)?;
    context.emit(&summary, || {
        format!(
            "custody policy set ({}): signers {}; required {}; at least {} hand-offs; continuity {}",
            path.display(),
            policy.signers.keys().cloned().collect::<Vec<_>>().join(", "),
            if policy.required.is_empty() { "none".to_owned() } else { policy.required.join(", ") },
            policy.min_handoffs,
            if policy.continuity { "required" } else { "not required" }
        )
    })
}

pub(crate) fn approve(context: &Context, args: &ApproveArgs) -> Result<(), Failure> {
    let key = airlift_trust::KeyPair::load(&args.key)?;
    let bytes = std::fs::read(&args.file)
        .map_err(|e| Failure::input(format!("cannot read {}: {e}", args.file.display())))?;
    let mut document: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|e| Failure::input(format!("{}: {e}", args.file.display())))?;
    let who = key
        .name()
        .map_or_else(|| key.keyid()[..12].to_owned(), str::to_owned);
    let (what, detail) = if document["format"] == airlift_bundle::APPROVAL_FORMAT {
        let signed = &document["targets"]["signed"];
        let summary = &document["summary"];
        let detail = format!(
            "bundle version {}: {} entries ({}), {} blobs, {} bytes{}",
            signed["version"],
            summary["entries"],
            summary["ecosystems"]
                .as_object()
                .map(|o| o
                    .iter()
                    .map(|(k, v)| format!("{k} {v}"))
                    .collect::<Vec<_>>()
                    .join(", "))
                .unwrap_or_default(),
            summary["blobs"],
            summary["bytes"],
            match document["statement"].get("destination") {
                Some(d) => format!(
                    ", for {} (sequence {})",
                    d.as_str().unwrap_or("?"),
                    document["statement"]["sequence"]
                ),
                None => String::new(),
            }
        );
        // The summary is informative; what is signed is the targets list.
        let listed = signed["targets"].as_object().map_or(0, |t| t.len());
        document["targets"] = airlift_trust::roles::add_signature(&document["targets"], &key)?;
        ("targets", format!("{detail}; {listed} targets signed"))
    } else if document["signed"]["_type"] == super::env::PROMOTION_TYPE {
        let signed = &document["signed"];
        let preview = &signed["preview"];
        let detail = format!(
            "promote {} (generation {}) to {} (now generation {}): {} added, {} changed, {} removed, {} findings introduced",
            signed["from"].as_str().unwrap_or("?"),
            signed["generation"],
            signed["environment"].as_str().unwrap_or("?"),
            signed["replaces"],
            preview["added"],
            preview["changed"],
            preview["removed"],
            preview["findings"]["introduced"]
                .as_array()
                .map_or(0, Vec::len),
        );
        let format = document["format"].clone();
        document = airlift_trust::roles::add_signature(&document, &key)?;
        document["format"] = format;
        ("promotion", detail)
    } else if document["signed"]["_type"] == "root" {
        let root = airlift_trust::RootInfo::from_signed(&document["signed"])
            .map_err(|e| Failure::input(format!("{}: {e}", args.file.display())))?;
        document = airlift_trust::roles::add_signature(&document, &key)?;
        (
            "root",
            format!(
                "root version {} with roles {}",
                root.version,
                root.roles
                    .iter()
                    .map(|(n, r)| format!("{n} {} of {}", r.threshold, r.keyids.len()))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )
    } else {
        return Err(Failure::input(format!(
            "{}: neither an approval request, a promotion request nor a pending root",
            args.file.display()
        )));
    };
    let text = serde_json::to_vec_pretty(&document).unwrap_or_default();
    airlift_core::write_file_durably(&args.file, &text).map_err(|e| {
        Failure::new(
            Exit::Failed,
            format!("cannot write {}: {e}", args.file.display()),
        )
    })?;
    let summary = serde_json::json!({"file": args.file, "signer": who, "keyid": key.keyid(), "kind": what, "what": detail});
    context.audit("approve", &summary)?;
    context.emit(&summary, || {
        format!(
            "{who} signed {} ({what}: {detail}); pass it on to the next approver, or back to the packer",
            args.file.display()
        )
    })
}
