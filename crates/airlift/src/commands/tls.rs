//! `airlift tls`.

use super::*;

#[derive(Serialize)]
pub(crate) struct TlsSummary {
    ca_certificate: PathBuf,
    server_certificate: PathBuf,
    names: Vec<String>,
}

pub(crate) fn tls_init(context: &Context, names: &[String]) -> Result<(), Failure> {
    let created = airlift_tls::init(&context.layout.tls_dir(), names, jiff::Timestamp::now())
        .map_err(|e| match e {
            airlift_tls::TlsError::Exists(_) | airlift_tls::TlsError::BadName(_) => {
                Failure::input(e.to_string())
            }
            _ => Failure::new(Exit::Failed, e.to_string()),
        })?;
    let summary = TlsSummary {
        ca_certificate: created.ca_certificate,
        server_certificate: created.server_certificate,
        names: created.names,
    };
    context.audit("tls-init", &summary)?;
    context.emit(&summary, || {
        format!(
            "created a site CA and a server certificate for {}\ndistribute {} to clients (docker: /etc/docker/certs.d/<host:port>/ca.crt), then run `airlift serve --tls`",
            summary.names.join(", "),
            summary.ca_certificate.display()
        )
    })
}

pub(crate) fn tls_client_cert(
    context: &Context,
    name: &str,
    user: &str,
    out: &Path,
    days: u32,
) -> Result<(), Failure> {
    if !airlift_access::valid_name(name) {
        return Err(Failure::input(format!(
            "{name:?} is not a valid name: letters, digits, '.', '_' or '-'"
        )));
    }
    let certificate_path = out.join(format!("{name}.crt"));
    let key_path = out.join(format!("{name}.key"));
    if certificate_path.exists() || key_path.exists() {
        return Err(Failure::input(format!(
            "{} or {} exists already; it is never overwritten",
            certificate_path.display(),
            key_path.display()
        )));
    }
    let now = jiff::Timestamp::now();
    let issued =
        airlift_tls::client_certificate(&context.layout.tls_dir(), name, now, i64::from(days))
            .map_err(|e| match e {
                airlift_tls::TlsError::Missing(_) => {
                    Failure::input(e.to_string()).hint("run `airlift tls init --name <host>` first")
                }
                _ => Failure::new(Exit::Failed, e.to_string()),
            })?;
    let directory = airlift_access::Directory::new(context.store()?.meta);
    directory
        .add_client_cert(&airlift_access::ClientCert {
            fingerprint: issued.fingerprint.clone(),
            user: user.to_owned(),
            created_at: now.as_second(),
            expires_at: now.as_second() + i64::from(days) * 86_400,
        })
        .map_err(|e| Failure::input(e.to_string()))?;
    std::fs::create_dir_all(out).map_err(|e| {
        Failure::new(
            Exit::Failed,
            format!("cannot create {}: {e}", out.display()),
        )
    })?;
    airlift_core::write_file_durably(&certificate_path, issued.certificate.as_bytes()).map_err(
        |e| {
            Failure::new(
                Exit::Failed,
                format!("cannot write {}: {e}", certificate_path.display()),
            )
        },
    )?;
    write_private(&key_path, issued.key.as_bytes())?;
    let facts = serde_json::json!({
        "name": name,
        "user": user,
        "fingerprint": issued.fingerprint,
        "days": days,
        "certificate": certificate_path,
        "key": key_path,
    });
    context.audit("client-cert-issue", &facts)?;
    context.emit(&facts, || {
        format!(
            "issued {} and {} for user {user} (fingerprint {}); clients present them to `serve --tls` (curl --cert/--key, pip --client-cert, docker certs.d/<host:port>/client.cert and client.key)",
            certificate_path.display(),
            key_path.display(),
            issued.fingerprint
        )
    })
}

/// Writes a private key readable by its owner only.
fn write_private(path: &Path, data: &[u8]) -> Result<(), Failure> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let written = options
        .open(path)
        .and_then(|mut file| file.write_all(data).and_then(|()| file.sync_all()));
    written.map_err(|e| {
        Failure::new(
            Exit::Failed,
            format!("cannot write {}: {e}", path.display()),
        )
    })
}

pub(crate) fn tls_revoke_client_cert(context: &Context, fingerprint: &str) -> Result<(), Failure> {
    let directory = airlift_access::Directory::new(context.store()?.meta);
    let cert = directory
        .revoke_client_cert(fingerprint)
        .map_err(|e| Failure::input(e.to_string()))?;
    let facts = serde_json::json!({"fingerprint": cert.fingerprint, "user": cert.user});
    context.audit("client-cert-revoke", &facts)?;
    context.emit(&facts, || {
        format!(
            "revoked client certificate {} of {}",
            cert.fingerprint, cert.user
        )
    })
}
