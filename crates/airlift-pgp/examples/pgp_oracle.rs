//! Verifies signatures with airlift's own OpenPGP code, for the
//! differential test against gpgv (`tests/diff/pgp.py`). It is a test tool,
//! not part of the product.
//!
//! Reads one case per line on standard input, file paths separated by tabs,
//! and prints one answer per line: `accept`, or `refuse <reason>`.
//!
//! - `D <keyring> <data> <signature>`: a detached signature over the data;
//! - `T <keyring> <message>`: a cleartext-signed message (`InRelease`).

use std::io::{BufRead, Write};

use airlift_pgp::{Keyring, PgpError};

fn verdict(fields: &[&str]) -> Result<(), String> {
    let read = |path: &str| std::fs::read(path).map_err(|e| format!("{path}: {e}"));
    let check = |keyring: &str, f: &dyn Fn(&Keyring) -> Result<(), PgpError>| {
        let keyring = Keyring::parse(&read(keyring)?).map_err(|e| e.to_string())?;
        f(&keyring).map_err(|e| e.to_string())
    };
    match fields {
        ["D", keyring, data, signature] => {
            let (data, signature) = (read(data)?, read(signature)?);
            check(keyring, &|k| k.verify_detached(&data, &signature).map(drop))
        }
        ["T", keyring, message] => {
            let message = read(message)?;
            check(keyring, &|k| k.verify_cleartext(&message).map(drop))
        }
        _ => Err(format!("unknown case {fields:?}")),
    }
}

fn main() -> std::io::Result<()> {
    let stdin = std::io::stdin();
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for line in stdin.lock().lines() {
        let line = line?;
        let fields: Vec<&str> = line.split('\t').collect();
        match verdict(&fields) {
            Ok(()) => writeln!(out, "accept")?,
            Err(reason) => writeln!(out, "refuse {}", reason.replace('\n', " "))?,
        }
    }
    out.flush()
}
