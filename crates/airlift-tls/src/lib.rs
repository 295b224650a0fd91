//! TLS for the isolated network: a site certificate authority and a server
//! certificate signed by it.
//!
//! Docker and containerd refuse plain HTTP to any registry that is not on
//! loopback, and there is no public CA inside a gap. `airlift tls init`
//! creates `ca.crt` in the home's TLS directory (distribute it to clients, for example as
//! `/etc/docker/certs.d/<host:port>/ca.crt`), `ca.key`, and `server.crt` /
//! `server.key` for the names and addresses given. [`server_config`] loads
//! them into a rustls configuration (aws-lc-rs, the one crypto provider of
//! the project). Keys are written with mode 0600 and never overwritten.

use std::fs;
use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose, SanType,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// TLS failures, naming the file concerned.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read or written.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// Certificates already exist.
    #[error("TLS material already exists in {0}; it is never overwritten")]
    Exists(PathBuf),
    /// No certificates yet.
    #[error("no server certificate in {0}")]
    Missing(PathBuf),
    /// A name is neither a DNS name nor an IP address.
    #[error("{0:?} is not a usable host name or IP address")]
    BadName(String),
    /// Generating or loading certificates failed.
    #[error("{0}")]
    Crypto(String),
}

/// What `init` wrote.
#[derive(Debug)]
pub struct Created {
    /// The CA certificate to distribute.
    pub ca_certificate: PathBuf,
    /// The server certificate.
    pub server_certificate: PathBuf,
    /// The names the server certificate covers.
    pub names: Vec<String>,
}

/// PEM text of DER bytes (RFC 7468), 64 characters a line.
fn pem(label: &str, der: &[u8]) -> String {
    use base64::Engine;
    let encoded = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in encoded.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

fn crypto(error: impl std::fmt::Display) -> TlsError {
    TlsError::Crypto(error.to_string())
}

fn write(path: &Path, data: &str, private: bool) -> Result<(), TlsError> {
    let io = |action| {
        let path = path.to_path_buf();
        move |source| TlsError::Io {
            action,
            path,
            source,
        }
    };
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(io("create"))?;
    file.write_all(data.as_bytes()).map_err(io("write"))?;
    file.sync_all().map_err(io("fsync"))
}

/// Creates the site CA and a server certificate for `names` (host names and
/// IP addresses; `localhost`, `127.0.0.1` and `::1` are always included).
pub fn init(dir: &Path, names: &[String], now: jiff::Timestamp) -> Result<Created, TlsError> {
    for name in names {
        if name.parse::<IpAddr>().is_err() && !valid_host_name(name) {
            return Err(TlsError::BadName(name.clone()));
        }
    }
    let dir = dir.to_path_buf();
    if dir.join("ca.crt").exists() || dir.join("server.crt").exists() {
        return Err(TlsError::Exists(dir));
    }
    fs::create_dir_all(&dir).map_err(|source| TlsError::Io {
        action: "create directory",
        path: dir.clone(),
        source,
    })?;
    let mut all: Vec<String> = vec!["localhost".into(), "127.0.0.1".into(), "::1".into()];
    for name in names {
        if !all.contains(name) {
            all.push(name.clone());
        }
    }
    let to_offset = |days: i64| -> Result<_, TlsError> {
        let (year, month, day) = date(now, days)?;
        Ok(rcgen::date_time_ymd(year, month, day))
    };
    let mut ca_params = ca_params();
    ca_params.not_before = to_offset(-1)?;
    ca_params.not_after = to_offset(3650)?;
    let ca_key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(crypto)?;
    let ca_cert = ca_params.self_signed(&ca_key).map_err(crypto)?;
    let issuer = rcgen::Issuer::new(ca_params, ca_key);

    let mut server_params = CertificateParams::default();
    server_params
        .distinguished_name
        .push(DnType::CommonName, all[all.len() - 1].clone());
    server_params.subject_alt_names = all
        .iter()
        .map(|name| match name.parse::<IpAddr>() {
            Ok(ip) => Ok(SanType::IpAddress(ip)),
            Err(_) => name
                .clone()
                .try_into()
                .map(SanType::DnsName)
                .map_err(|_| TlsError::BadName(name.clone())),
        })
        .collect::<Result<_, _>>()?;
    server_params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    server_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    server_params.not_before = to_offset(-1)?;
    server_params.not_after = to_offset(397)?;
    let server_key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(crypto)?;
    let server_cert = server_params
        .signed_by(&server_key, &issuer)
        .map_err(crypto)?;

    let ca_pem = pem("CERTIFICATE", ca_cert.der());
    write(
        &dir.join("ca.key"),
        &pem("PRIVATE KEY", &issuer.key().serialize_der()),
        true,
    )?;
    write(&dir.join("ca.crt"), &ca_pem, false)?;
    write(
        &dir.join("server.key"),
        &pem("PRIVATE KEY", &server_key.serialize_der()),
        true,
    )?;
    // The chain: server certificate, then the CA.
    write(
        &dir.join("server.crt"),
        &format!("{}{ca_pem}", pem("CERTIFICATE", server_cert.der())),
        false,
    )?;
    Ok(Created {
        ca_certificate: dir.join("ca.crt"),
        server_certificate: dir.join("server.crt"),
        names: all,
    })
}

/// The site CA's parameters: its distinguished name, constraints and
/// usages (the validity is set by the caller). The issuer of every
/// certificate it signs is rebuilt from these and its key, so they never
/// change.
fn ca_params() -> CertificateParams {
    let mut params = CertificateParams::default();
    params
        .distinguished_name
        .push(DnType::CommonName, "airlift site CA");
    params
        .distinguished_name
        .push(DnType::OrganizationName, "airlift");
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params
}

/// A client certificate the site CA issued.
#[derive(Debug)]
pub struct ClientCertificate {
    /// The certificate, PEM, followed by the CA's.
    pub certificate: String,
    /// Its private key, PEM (PKCS#8).
    pub key: String,
    /// The SHA-256 of the certificate's DER, lowercase hex: how the
    /// server recognises it.
    pub fingerprint: String,
}

/// Issues a client certificate for `name` (its common name), valid for
/// `days` from `now`, signed by the site CA in `dir`.
pub fn client_certificate(
    dir: &Path,
    name: &str,
    now: jiff::Timestamp,
    days: i64,
) -> Result<ClientCertificate, TlsError> {
    let ca_key_path = dir.join("ca.key");
    if !ca_key_path.exists() {
        return Err(TlsError::Missing(dir.to_path_buf()));
    }
    let ca_key_der = PrivateKeyDer::from_pem_file(&ca_key_path)
        .map_err(|e| TlsError::Crypto(format!("{}: {e}", ca_key_path.display())))?;
    let ca_key = KeyPair::try_from(&ca_key_der)
        .map_err(|e| TlsError::Crypto(format!("{}: {e}", ca_key_path.display())))?;
    let ca_pem = fs::read_to_string(dir.join("ca.crt")).map_err(|source| TlsError::Io {
        action: "read",
        path: dir.join("ca.crt"),
        source,
    })?;
    let issuer = rcgen::Issuer::new(ca_params(), ca_key);
    let to_offset = |days: i64| -> Result<_, TlsError> {
        let (year, month, day) = date(now, days)?;
        Ok(rcgen::date_time_ymd(year, month, day))
    };
    let mut params = CertificateParams::default();
    params.distinguished_name.push(DnType::CommonName, name);
    params
        .distinguished_name
        .push(DnType::OrganizationName, "airlift");
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    params.not_before = to_offset(-1)?;
    params.not_after = to_offset(days)?;
    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(crypto)?;
    let certificate = params.signed_by(&key, &issuer).map_err(crypto)?;
    let fingerprint = fingerprint(certificate.der());
    Ok(ClientCertificate {
        certificate: format!("{}{ca_pem}", pem("CERTIFICATE", certificate.der())),
        key: pem("PRIVATE KEY", &key.serialize_der()),
        fingerprint,
    })
}

/// The SHA-256 of a certificate's DER, lowercase hex.
pub fn fingerprint(der: &[u8]) -> String {
    use std::fmt::Write as _;
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, der);
    digest.as_ref().iter().fold(String::new(), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

/// A DNS host name: dot-separated labels of letters, digits and inner
/// hyphens, 1 to 63 characters each, 253 in all; `*.` may lead.
fn valid_host_name(name: &str) -> bool {
    let name = name.strip_prefix("*.").unwrap_or(name);
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

/// The UTC calendar date `days` after `now`.
fn date(now: jiff::Timestamp, days: i64) -> Result<(i32, u8, u8), TlsError> {
    let moment = now
        .checked_add(jiff::SignedDuration::from_hours(24 * days))
        .map_err(crypto)?;
    let civil = moment.to_zoned(jiff::tz::TimeZone::UTC).date();
    Ok((
        i32::from(civil.year()),
        civil.month() as u8,
        civil.day() as u8,
    ))
}

/// The rustls server configuration for the TLS directory `dir`.
pub fn server_config(dir: &Path) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let dir = dir.to_path_buf();
    let certificate = dir.join("server.crt");
    let key = dir.join("server.key");
    if !certificate.exists() {
        return Err(TlsError::Missing(dir));
    }
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&certificate)
        .map_err(|e| TlsError::Crypto(format!("{}: {e}", certificate.display())))?
        .collect::<Result<_, _>>()
        .map_err(|e| TlsError::Crypto(format!("{}: {e}", certificate.display())))?;
    let private = PrivateKeyDer::from_pem_file(&key)
        .map_err(|e| TlsError::Crypto(format!("{}: {e}", key.display())))?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    // Client certificates the site CA issued are accepted (and mapped to
    // users by the server); a client without one is served as before.
    let mut roots = rustls::RootCertStore::empty();
    let ca = dir.join("ca.crt");
    for cert in CertificateDer::pem_file_iter(&ca)
        .map_err(|e| TlsError::Crypto(format!("{}: {e}", ca.display())))?
    {
        let cert = cert.map_err(|e| TlsError::Crypto(format!("{}: {e}", ca.display())))?;
        roots
            .add(cert)
            .map_err(|e| TlsError::Crypto(format!("{}: {e}", ca.display())))?;
    }
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(roots),
        provider.clone(),
    )
    .allow_unauthenticated()
    .build()
    .map_err(crypto)?;
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(crypto)?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, private)
        .map_err(|e| TlsError::Crypto(format!("{}: {e}", certificate.display())))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// When the first certificate of a PEM file expires (its `notAfter`, in
/// Unix seconds), or `None` when there is no certificate the reader
/// understands. Read for the server's metrics: only the DER path to the
/// validity is walked, with every length checked against what is left.
pub fn not_after(pem: &[u8]) -> Option<i64> {
    let der = CertificateDer::pem_slice_iter(pem).next()?.ok()?;
    // Certificate ::= SEQUENCE { tbsCertificate SEQUENCE { [0] version
    // OPTIONAL, serialNumber, signature, issuer, validity, … }, … }
    let (certificate, _) = der_element(der.as_ref(), 0x30)?;
    let (mut tbs, _) = der_element(certificate, 0x30)?;
    if tbs.first() == Some(&0xa0) {
        tbs = der_element(tbs, 0xa0)?.1;
    }
    for tag in [0x02, 0x30, 0x30] {
        tbs = der_element(tbs, tag)?.1;
    }
    let (validity, _) = der_element(tbs, 0x30)?;
    let after = match validity.first()? {
        0x17 => der_element(validity, 0x17)?.1,
        0x18 => der_element(validity, 0x18)?.1,
        _ => return None,
    };
    let tag = *after.first()?;
    let text = der_element(after, tag)?.0;
    let text = std::str::from_utf8(text).ok()?;
    // UTCTime is YYMMDDHHMMSSZ (years 1950 to 2049); GeneralizedTime
    // YYYYMMDDHHMMSSZ.
    let full = match tag {
        0x17 => {
            let year: i32 = text.get(..2)?.parse().ok()?;
            format!("{}{text}", if year >= 50 { "19" } else { "20" })
        }
        _ => text.to_owned(),
    };
    let digits = full.strip_suffix('Z')?;
    if digits.len() != 14 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let field = |range: std::ops::Range<usize>| digits.get(range)?.parse::<i16>().ok();
    let date = jiff::civil::Date::new(field(0..4)?, field(4..6)? as i8, field(6..8)? as i8).ok()?;
    let time = jiff::civil::Time::new(
        field(8..10)? as i8,
        field(10..12)? as i8,
        field(12..14)? as i8,
        0,
    )
    .ok()?;
    date.to_datetime(time)
        .to_zoned(jiff::tz::TimeZone::UTC)
        .ok()
        .map(|zoned| zoned.timestamp().as_second())
}

/// The content of the DER element of `tag` at the start of `input`, and
/// what follows it; `None` when the tag differs or a length runs past the
/// input.
fn der_element(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    if *input.first()? != tag {
        return None;
    }
    let first = *input.get(1)? as usize;
    let (length, header) = if first < 0x80 {
        (first, 2)
    } else {
        let count = first & 0x7f;
        if count == 0 || count > 4 {
            return None;
        }
        let mut length = 0usize;
        for byte in input.get(2..2 + count)? {
            length = (length << 8) | *byte as usize;
        }
        (length, 2 + count)
    };
    let end = header.checked_add(length)?;
    Some((input.get(header..end)?, input.get(end..)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_creates_a_loadable_chain_and_never_overwrites() {
        let home = tempfile::tempdir().expect("tempdir");
        let created = init(
            home.path(),
            &["registry.example.com".into(), "10.1.2.3".into()],
            jiff::Timestamp::now(),
        )
        .expect("init");
        assert!(created.names.contains(&"registry.example.com".to_owned()));
        server_config(home.path()).expect("the server configuration loads");
        assert!(matches!(
            init(home.path(), &[], jiff::Timestamp::now()),
            Err(TlsError::Exists(_))
        ));
        let error = init(
            tempfile::tempdir().expect("tempdir").path(),
            &["bad name!".into()],
            jiff::Timestamp::now(),
        )
        .expect_err("bad name accepted");
        assert!(matches!(error, TlsError::BadName(_)));
    }

    #[test]
    fn the_expiry_of_a_certificate_is_read_and_garbage_is_none() {
        let home = tempfile::tempdir().expect("tempdir");
        let now = jiff::Timestamp::now();
        init(home.path(), &[], now).expect("init");
        let read = |name: &str| {
            not_after(&fs::read(home.path().join(name)).expect("read")).expect("a notAfter")
        };
        let days = |seconds: i64| (seconds - now.as_second()) as f64 / 86_400.0;
        let server = days(read("server.crt"));
        assert!((396.0..=398.0).contains(&server), "{server}");
        let ca = days(read("ca.crt"));
        assert!((3649.0..=3651.0).contains(&ca), "{ca}");
        assert_eq!(not_after(b"not a certificate"), None);
        let mut pem = fs::read(home.path().join("server.crt")).expect("read");
        // A certificate cut short: its lengths run past what is left.
        let text = String::from_utf8(pem.clone()).expect("utf-8");
        let body: String = text.lines().skip(1).take(3).collect::<Vec<_>>().join("\n");
        pem = format!("-----BEGIN CERTIFICATE-----\n{body}\n-----END CERTIFICATE-----\n")
            .into_bytes();
        assert_eq!(not_after(&pem), None);
    }
}
