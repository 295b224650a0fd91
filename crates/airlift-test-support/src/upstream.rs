//! A scripted HTTP/1.1 upstream on loopback, written by hand on std threads
//! so that it can misbehave as no well-behaved server library would: break
//! a download off once, fail, or demand a bearer token. It serves plain
//! files and any other path-addressed upstream (an OCI registry's routes,
//! an apt archive from [`crate::apt::archive`]), and records every request
//! with its `Range` and `Authorization` headers.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the upstream does for one path.
#[derive(Clone)]
pub enum Behaviour {
    /// Serve the bytes (with Range support).
    Serve(Vec<u8>),
    /// The first full request gets only `cut` bytes then the connection drops;
    /// later requests are served normally (with Range support).
    CutOnce(Vec<u8>, usize),
    /// Always 500.
    Fail,
    /// Served only with `Authorization: Bearer <token>`; otherwise 401 with a
    /// bearer challenge whose realm is `/token` on this server.
    Protected(Vec<u8>, String),
}

/// A request the upstream saw: path, Range header, Authorization header.
pub type Logged = (String, Option<String>, Option<String>);

/// A loopback HTTP/1.1 server with scripted behaviours, recording requests.
pub struct Upstream {
    /// Where it listens.
    pub address: SocketAddr,
    /// Every request, in order.
    pub requests: Arc<Mutex<Vec<Logged>>>,
}

impl Upstream {
    /// Starts serving `routes` (paths without the leading `/`) on loopback.
    pub fn start(routes: HashMap<String, Behaviour>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let address = listener.local_addr().expect("the bound address");
        let requests = Arc::new(Mutex::new(Vec::new()));
        let routes = Arc::new(Mutex::new(routes));
        let cut_done = Arc::new(Mutex::new(std::collections::HashSet::new()));
        let log = requests.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let routes = routes.clone();
                let log = log.clone();
                let cut_done = cut_done.clone();
                std::thread::spawn(move || {
                    let _ = handle(stream, &routes, &log, &cut_done);
                });
            }
        });
        Self { address, requests }
    }

    /// The URL of `path` (without the leading `/`) on this upstream.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}/{path}", self.address)
    }

    /// [`Upstream::url`] with a user and password in it.
    pub fn url_with_credentials(&self, path: &str, user: &str, password: &str) -> String {
        format!("http://{user}:{password}@{}/{path}", self.address)
    }
}

fn handle(
    stream: TcpStream,
    routes: &Mutex<HashMap<String, Behaviour>>,
    log: &Mutex<Vec<Logged>>,
    cut_done: &Mutex<std::collections::HashSet<String>>,
) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut writer = stream;
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line)? == 0 {
            return Ok(());
        }
        let path = request_line
            .split_whitespace()
            .nth(1)
            .unwrap_or("/")
            .trim_start_matches('/')
            .to_owned();
        let mut range = None;
        let mut authorization = None;
        loop {
            let mut line = String::new();
            reader.read_line(&mut line)?;
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                match name.to_ascii_lowercase().as_str() {
                    "range" => range = Some(value.trim().to_owned()),
                    "authorization" => authorization = Some(value.trim().to_owned()),
                    _ => {}
                }
            }
        }
        log.lock()
            .expect("the upstream's lock")
            .push((path.clone(), range.clone(), authorization));
        let behaviour = routes
            .lock()
            .expect("the upstream's lock")
            .get(&path)
            .cloned();
        match behaviour {
            None => {
                writer.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")?;
            }
            Some(Behaviour::Fail) => {
                writer.write_all(
                    b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n",
                )?;
            }
            Some(Behaviour::Protected(data, token)) => {
                let expected = format!("Bearer {token}");
                let authorized = log
                    .lock()
                    .expect("the upstream's lock")
                    .last()
                    .and_then(|r| r.2.clone())
                    == Some(expected);
                if authorized {
                    write!(
                        writer,
                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n",
                        data.len()
                    )?;
                    writer.write_all(&data)?;
                } else {
                    let host = writer.local_addr()?;
                    write!(
                        writer,
                        "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer realm=\"http://{host}/token\",service=\"test\",scope=\"repository:team/app:pull\"\r\nContent-Length: 0\r\n\r\n"
                    )?;
                }
            }
            Some(Behaviour::CutOnce(data, cut))
                if range.is_none()
                    && cut_done
                        .lock()
                        .expect("the upstream's lock")
                        .insert(path.clone()) =>
            {
                write!(
                    writer,
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nAccept-Ranges: bytes\r\n\r\n",
                    data.len()
                )?;
                writer.write_all(&data[..cut])?;
                writer.flush()?;
                return Ok(());
            }
            Some(Behaviour::Serve(data) | Behaviour::CutOnce(data, _)) => {
                let start = range
                    .as_deref()
                    .and_then(|r| r.strip_prefix("bytes="))
                    .and_then(|r| r.strip_suffix('-'))
                    .and_then(|r| r.parse::<usize>().ok());
                match start {
                    Some(start) if start < data.len() => {
                        write!(
                            writer,
                            "HTTP/1.1 206 Partial Content\r\nContent-Length: {}\r\nContent-Range: bytes {start}-{}/{}\r\n\r\n",
                            data.len() - start,
                            data.len() - 1,
                            data.len()
                        )?;
                        writer.write_all(&data[start..])?;
                    }
                    _ => {
                        write!(
                            writer,
                            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n",
                            data.len()
                        )?;
                        writer.write_all(&data)?;
                    }
                }
            }
        }
        writer.flush()?;
    }
}
