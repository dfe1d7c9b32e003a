//! A plain-HTTP GET client on the standard library, for `backtest`'s reads of Prometheus' API.
//!
//! Why not reqwest: its TLS stack (rustls on aws-lc-sys) is a slow C build, and the CLI must
//! build in well under a minute on a fresh machine for `simulate`. Prometheus' API is a handful
//! of GETs, so HTTP/1.1 with `Connection: close` is all it takes; `https://` is refused with
//! what to do instead (docs/backtest.md, "TLS").

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

/// Where Prometheus listens: `http://host[:port][/prefix]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Endpoint {
    pub host: String,
    pub port: u16,
    /// A path prefix (`/prometheus` behind a reverse proxy), without the trailing slash.
    pub prefix: String,
}

impl Endpoint {
    pub fn parse(url: &str) -> Result<Endpoint, String> {
        let rest = if let Some(rest) = url.strip_prefix("http://") {
            rest
        } else if url.starts_with("https://") {
            return Err(format!(
                "--prometheus {url}: https:// is not supported by the CLI's built-in client (it has no TLS, so \
                 that it builds quickly); reach Prometheus over plain HTTP on a trusted path, e.g. `kubectl \
                 port-forward -n monitoring svc/prometheus 9090` and --prometheus http://127.0.0.1:9090"
            ));
        } else {
            return Err(format!("--prometheus {url:?}: expected an http:// URL, e.g. http://127.0.0.1:9090"));
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        if authority.contains('@') {
            return Err(format!("--prometheus {url}: put credentials in --user and --password-file, not in the URL"));
        }
        let (host, port) = match authority.rsplit_once(':') {
            Some((host, port)) => {
                let port =
                    port.parse::<u16>().map_err(|_| format!("--prometheus {url}: port {port:?} is not a number"))?;
                (host, port)
            }
            _ => (authority, 80),
        };
        if host.is_empty() {
            return Err(format!("--prometheus {url}: no host"));
        }
        Ok(Endpoint { host: host.to_string(), port, prefix: path.trim_end_matches('/').to_string() })
    }

    pub fn url(&self) -> String {
        format!("http://{}:{}{}", self.host, self.port, self.prefix)
    }
}

/// An HTTP answer: status and body.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub body: String,
}

/// Why a request got no HTTP answer at all.
#[derive(Debug)]
pub struct Unreachable(pub String);

/// `GET prefix + path?query` with optional basic auth, one connection per request.
pub fn get(
    endpoint: &Endpoint,
    path: &str,
    query: &[(&str, String)],
    auth: Option<(&str, &str)>,
    timeout: Duration,
) -> Result<Response, Unreachable> {
    let target = format!("{}{path}?{}", endpoint.prefix, encode_query(query));
    let address = (endpoint.host.as_str(), endpoint.port)
        .to_socket_addrs()
        .map_err(|e| Unreachable(format!("cannot resolve {}: {e}", endpoint.host)))?
        .next()
        .ok_or_else(|| Unreachable(format!("{} resolves to no address", endpoint.host)))?;
    let mut stream = TcpStream::connect_timeout(&address, timeout)
        .map_err(|e| Unreachable(format!("cannot connect to {address}: {e}")))?;
    stream.set_read_timeout(Some(timeout)).and_then(|_| stream.set_write_timeout(Some(timeout))).ok();
    let mut request = format!(
        "GET {target} HTTP/1.1\r\nHost: {}:{}\r\nUser-Agent: smartscale-backtest\r\nAccept: application/json\r\nConnection: close\r\n",
        endpoint.host, endpoint.port
    );
    if let Some((user, password)) = auth {
        request.push_str(&format!("Authorization: Basic {}\r\n", base64(format!("{user}:{password}").as_bytes())));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).map_err(|e| Unreachable(format!("sending the request: {e}")))?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).map_err(|e| Unreachable(format!("reading the response: {e}")))?;
    parse_response(&raw).map_err(Unreachable)
}

fn parse_response(raw: &[u8]) -> Result<Response, String> {
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").ok_or("the response has no end of headers")?;
    let head = String::from_utf8_lossy(&raw[..split]);
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or_else(|| format!("not an HTTP response: {status_line:?}"))?;
    let header = |name: &str| {
        lines
            .clone()
            .filter_map(|l| l.split_once(':'))
            .find(|(k, _)| k.trim().eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim().to_string())
    };
    let body = &raw[split + 4..];
    let body = if header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        dechunk(body)?
    } else if let Some(length) = header("content-length") {
        let length: usize = length.parse().map_err(|_| format!("bad Content-Length {length:?}"))?;
        if body.len() < length {
            return Err(format!("the response ended after {} of {length} bytes", body.len()));
        }
        body[..length].to_vec()
    } else {
        body.to_vec()
    };
    Ok(Response { status, body: String::from_utf8_lossy(&body).into_owned() })
}

fn dechunk(mut body: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    loop {
        let line_end = body.windows(2).position(|w| w == b"\r\n").ok_or("a chunk has no size line")?;
        let size_text = String::from_utf8_lossy(&body[..line_end]);
        let size_text = size_text.split(';').next().unwrap_or("").trim().to_string();
        let size = usize::from_str_radix(&size_text, 16).map_err(|_| format!("bad chunk size {size_text:?}"))?;
        body = &body[line_end + 2..];
        if size == 0 {
            return Ok(out);
        }
        if body.len() < size + 2 {
            return Err("the response ended inside a chunk".into());
        }
        out.extend_from_slice(&body[..size]);
        body = &body[size + 2..];
    }
}

/// `application/x-www-form-urlencoded` as a URL query: unreserved characters kept, the rest
/// percent-encoded (PromQL is full of `{`, `"`, `=` and spaces).
fn encode_query(query: &[(&str, String)]) -> String {
    let encode = |text: &str| {
        text.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
                _ => format!("%{b:02X}"),
            })
            .collect::<String>()
    };
    query.iter().map(|(k, v)| format!("{}={}", encode(k), encode(v))).collect::<Vec<_>>().join("&")
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_parse_and_refuse_what_the_client_cannot_do() {
        let e = Endpoint::parse("http://prom.example:9090/prometheus/").unwrap();
        assert_eq!((e.host.as_str(), e.port, e.prefix.as_str()), ("prom.example", 9090, "/prometheus"));
        assert_eq!(Endpoint::parse("http://10.0.0.5").unwrap().port, 80);
        assert!(Endpoint::parse("https://prom.example").unwrap_err().contains("port-forward"));
        assert!(Endpoint::parse("prom:9090").unwrap_err().contains("expected an http:// URL"));
        assert!(Endpoint::parse("http://u:p@prom:9090").unwrap_err().contains("--password-file"));
        assert!(Endpoint::parse("http://prom:x").unwrap_err().contains("port \"x\""));
    }

    #[test]
    fn base64_and_query_encoding() {
        assert_eq!(base64(b"Aladdin:open sesame"), "QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
        assert_eq!(base64(b"ab"), "YWI=");
        assert_eq!(encode_query(&[("query", "sum(x{a=\"b\"})".into())]), "query=sum%28x%7Ba%3D%22b%22%7D%29");
    }

    #[test]
    fn chunked_and_sized_bodies() {
        let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nWiki\r\n5;x=y\r\npedia\r\n0\r\n\r\n";
        assert_eq!(parse_response(chunked).unwrap().body, "Wikipedia");
        let sized = b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 3\r\n\r\nno!extra";
        let r = parse_response(sized).unwrap();
        assert_eq!((r.status, r.body.as_str()), (401, "no!"));
        assert!(parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nshort").is_err());
    }
}
