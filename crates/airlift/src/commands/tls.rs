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
