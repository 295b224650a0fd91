//! `airlift keys`.

use super::*;

pub(crate) fn keys_new(
    context: &Context,
    name: &str,
    dir: Option<PathBuf>,
    pkcs11: Option<&str>,
) -> Result<(), Failure> {
    let dir = dir.unwrap_or_else(|| context.layout.keys_dir());
    let (key, private) = match pkcs11 {
        Some(uri) => (
            airlift_trust::KeyPair::generate_in_token(&dir, name, uri)?,
            dir.join(format!("{name}.pkcs11")),
        ),
        None => (
            airlift_trust::KeyPair::generate_named(&dir, name)?,
            dir.join(format!("{name}.pk8")),
        ),
    };
    let public = dir.join(format!("{name}.pub.json"));
    let summary = serde_json::json!({
        "name": name,
        "keyid": key.keyid(),
        "private": private,
        "public": public,
        "token": pkcs11.is_some(),
    });
    context.audit(
        "keys-new",
        &serde_json::json!({"name": name, "keyid": key.keyid(), "token": pkcs11.is_some()}),
    )?;
    context.emit(&summary, || {
        format!(
            "created key {name} ({})\nprivate: {} (keep it on this machine{})\npublic:  {} (hand it to whoever rotates the root)",
            key.keyid(),
            private.display(),
            if pkcs11.is_some() { "; the key itself stays in the token" } else { "" },
            public.display()
        )
    })
}

pub(crate) fn keys_list(context: &Context) -> Result<(), Failure> {
    let keys = SiteKeys::open(&context.layout.keys_dir())?;
    let root = keys.latest_root()?;
    let local = keys.local_keyids();
    let roles: Vec<serde_json::Value> = root
        .roles
        .iter()
        .map(|(name, role)| {
            serde_json::json!({
                "role": name,
                "threshold": role.threshold,
                "keys": role.keyids.iter().map(|k| serde_json::json!({
                    "keyid": k,
                    "name": root.keys.get(k).and_then(|v| v.get(airlift_trust::roles::NAME_FIELD)).and_then(|n| n.as_str()),
                    "here": local.contains(k),
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    let summary =
        serde_json::json!({"root_version": root.version, "expires": root.expires, "roles": roles});
    context.emit(&summary, || {
        let mut text = format!("root version {} (expires {})", root.version, root.expires);
        for (name, role) in &root.roles {
            text.push_str(&format!("\n{name}: {} of", role.threshold));
            for k in &role.keyids {
                text.push_str(&format!(
                    " {}{}",
                    root.describe(k),
                    if local.contains(k) { " [here]" } else { "" }
                ));
            }
        }
        text
    })
}

pub(crate) fn keys_rotate(
    context: &Context,
    policy: Option<&Path>,
    extra: &[PathBuf],
    finish: bool,
) -> Result<(), Failure> {
    let keys = SiteKeys::open(&context.layout.keys_dir())?;
    let rotation = if finish {
        keys.finish_rotation()?
    } else {
        let Some(path) = policy else {
            return Err(Failure::input("give --policy FILE (or --finish)"));
        };
        let parsed =
            airlift_trust::policy::load_roles(path).map_err(|e| Failure::input(e.to_string()))?;
        let roles = parsed.roles;
        let expires = now()?
            .checked_add(jiff::SignedDuration::from_hours(24 * parsed.expires_days))
            .map_err(|e| Failure::input(e.to_string()))?;
        let extra = extra
            .iter()
            .map(|p| airlift_trust::KeyPair::load(p))
            .collect::<Result<Vec<_>, _>>()?;
        keys.rotate(&roles, expires, &extra)?
    };
    match rotation {
        airlift_trust::Rotation::Installed { version, path } => {
            context.audit("keys-rotate", &serde_json::json!({"root_version": version}))?;
            context.emit(
                &serde_json::json!({"installed": true, "root_version": version, "root": path}),
                || {
                    format!(
                        "root version {version} installed ({}); the next bundle carries it and importers walk to it",
                        path.display()
                    )
                },
            )
        }
        airlift_trust::Rotation::Pending {
            version,
            path,
            old,
            new,
        } => {
            let old_root = keys.latest_root()?;
            let new_root = std::fs::read(&path)
                .ok()
                .and_then(|b| airlift_trust::RootInfo::parse(&b).ok());
            let describe_new = new_root
                .as_ref()
                .map_or_else(String::new, |r| new.describe(r));
            Err(Failure::new(
                Exit::AwaitingSignatures,
                format!(
                    "root version {version} needs more signatures: old root {}; new root {}",
                    old.describe(&old_root),
                    describe_new
                ),
            )
            .hint(format!(
                "run `airlift approve {} --key <root key>` where the keys are, then `airlift keys rotate --finish`",
                path.display()
            )))
        }
    }
}

#[derive(Serialize)]
pub(crate) struct KeysSummary {
    keyid: String,
    root: PathBuf,
}

pub(crate) fn keys_init(context: &Context, root_expires_days: i64) -> Result<(), Failure> {
    if root_expires_days < 1 {
        return Err(Failure::input("--root-expires-days must be at least 1"));
    }
    let keys = SiteKeys::init(&context.layout.keys_dir(), now()?, root_expires_days)?;
    let summary = KeysSummary {
        keyid: keys.signer.keyid().to_owned(),
        root: keys.root_path(1),
    };
    context.audit("keys-init", &summary)?;
    context.emit(&summary, || {
        format!(
            "created key {}\ntrust anchor: {}\ncarry it to the isolated side and run `airlift init --trust root.json` there",
            summary.keyid,
            summary.root.display()
        )
    })
}
