//! Just enough HTTP/1.1 for the Bitbucket-like test server, on std only.
//!
//! Why hand-written: the server must behave like Bitbucket at the byte level that git
//! and libcurl see (status lines, `WWW-Authenticate`, bodies shown as `remote: …`),
//! and a dev-dependency on a web framework would be far more than the one-request-per-connection
//! exchange git needs. Requests come with `Content-Length` or `Transfer-Encoding: chunked`
//! bodies (git uses chunked for large pushes and may gzip them); answers always carry
//! `Content-Length` and `Connection: close`.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpStream;

/// Longest request line or header line accepted.
const MAX_LINE: u64 = 64 * 1024;
/// Largest request body accepted (test repositories are tiny).
const MAX_BODY: usize = 256 * 1024 * 1024;

/// One parsed request, body already de-chunked (but still content-encoded, e.g. gzip).
pub struct Request {
    pub method: String,
    /// The path, percent-decoded, without the query.
    pub path: String,
    /// The raw query string, without `?` (empty if none).
    pub query: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    /// The first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// An answer to write back.
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// A plain-text answer, as Bitbucket gives for its errors (git prints such bodies as `remote: …`).
    pub fn text(status: u16, body: &str) -> Response {
        Response {
            status,
            headers: vec![(
                "Content-Type".to_owned(),
                "text/plain; charset=utf-8".to_owned(),
            )],
            body: body.as_bytes().to_vec(),
        }
    }
}

fn invalid(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.into())
}

/// Reads one line (up to LF), without its line ending.
fn read_line(reader: &mut BufReader<TcpStream>) -> io::Result<String> {
    let mut buf = Vec::new();
    reader.by_ref().take(MAX_LINE).read_until(b'\n', &mut buf)?;
    if !buf.ends_with(b"\n") {
        return Err(invalid("line too long or connection closed"));
    }
    while buf.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
        buf.pop();
    }
    String::from_utf8(buf).map_err(|_| invalid("non-UTF-8 header line"))
}

/// Reads a whole request. `Expect: 100-continue` is answered on `out` before the body is read.
pub fn read_request(
    reader: &mut BufReader<TcpStream>,
    out: &mut impl Write,
) -> io::Result<Request> {
    let line = read_line(reader)?;
    let mut parts = line.split(' ');
    let (Some(method), Some(target), Some(_version)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(invalid(format!("bad request line {line:?}")));
    };
    let (raw_path, query) = target.split_once('?').unwrap_or((target, ""));
    let mut headers = Vec::new();
    loop {
        let line = read_line(reader)?;
        if line.is_empty() {
            break;
        }
        let (k, v) = line
            .split_once(':')
            .ok_or_else(|| invalid(format!("bad header {line:?}")))?;
        headers.push((k.trim().to_owned(), v.trim().to_owned()));
        if headers.len() > 200 {
            return Err(invalid("too many headers"));
        }
    }
    let mut req = Request {
        method: method.to_owned(),
        path: percent_decode(raw_path),
        query: query.to_owned(),
        headers,
        body: Vec::new(),
    };
    if req
        .header("Expect")
        .is_some_and(|v| v.eq_ignore_ascii_case("100-continue"))
    {
        out.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
        out.flush()?;
    }
    if req
        .header("Transfer-Encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"))
    {
        req.body = read_chunked(reader)?;
    } else if let Some(len) = req.header("Content-Length") {
        let len: usize = len.parse().map_err(|_| invalid("bad Content-Length"))?;
        if len > MAX_BODY {
            return Err(invalid("body too large"));
        }
        let mut body = vec![0; len];
        reader.read_exact(&mut body)?;
        req.body = body;
    }
    Ok(req)
}

/// Decodes a `Transfer-Encoding: chunked` body (extensions and trailers are skipped).
fn read_chunked(reader: &mut BufReader<TcpStream>) -> io::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let line = read_line(reader)?;
        let size = line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size, 16).map_err(|_| invalid("bad chunk size"))?;
        if size == 0 {
            while !read_line(reader)?.is_empty() {}
            return Ok(body);
        }
        if body.len() + size > MAX_BODY {
            return Err(invalid("body too large"));
        }
        let start = body.len();
        body.resize(start + size, 0);
        reader.read_exact(&mut body[start..])?;
        if !read_line(reader)?.is_empty() {
            return Err(invalid("chunk not followed by CRLF"));
        }
    }
}

/// Writes `resp` as HTTP/1.1 with its own `Content-Length` and `Connection: close`.
pub fn write_response(out: &mut impl Write, resp: &Response) -> io::Result<()> {
    let mut head = format!("HTTP/1.1 {} {}\r\n", resp.status, reason(resp.status));
    for (k, v) in &resp.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        resp.body.len()
    ));
    out.write_all(head.as_bytes())?;
    out.write_all(&resp.body)?;
    out.flush()
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        304 => "Not Modified",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        410 => "Gone",
        415 => "Unsupported Media Type",
        500 => "Internal Server Error",
        _ => "Unknown",
    }
}

/// Turns CGI output (headers, blank line, body) into a response. `Status:` defaults to 200;
/// the CGI's own framing headers are dropped because [`write_response`] sets them.
pub fn parse_cgi_output(out: &[u8]) -> Result<Response, String> {
    let (head, body) = match find(out, b"\r\n\r\n") {
        Some(i) => (&out[..i], &out[i + 4..]),
        None => match find(out, b"\n\n") {
            Some(i) => (&out[..i], &out[i + 2..]),
            None => return Err("CGI output has no end of headers".to_owned()),
        },
    };
    let head = std::str::from_utf8(head).map_err(|_| "CGI headers are not UTF-8".to_owned())?;
    let mut resp = Response {
        status: 200,
        headers: Vec::new(),
        body: body.to_vec(),
    };
    for line in head.lines().map(str::trim_end).filter(|l| !l.is_empty()) {
        let (k, v) = line
            .split_once(':')
            .ok_or_else(|| format!("bad CGI header {line:?}"))?;
        let (k, v) = (k.trim(), v.trim());
        if k.eq_ignore_ascii_case("Status") {
            let code = v.split(' ').next().unwrap_or("");
            resp.status = code.parse().map_err(|_| format!("bad CGI status {v:?}"))?;
        } else if !["Content-Length", "Connection", "Transfer-Encoding"]
            .iter()
            .any(|h| k.eq_ignore_ascii_case(h))
        {
            resp.headers.push((k.to_owned(), v.to_owned()));
        }
    }
    Ok(resp)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Decodes `%XX` escapes (invalid escapes are kept as they are).
pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes.get(i + 1..i + 3).and_then(|h| {
            std::str::from_utf8(h)
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        });
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cgi_output_is_parsed() {
        let r = parse_cgi_output(b"Status: 404 Not Found\r\nX-A: b\r\n\r\nnope").unwrap();
        assert_eq!((r.status, r.body.as_slice()), (404, &b"nope"[..]));
        assert_eq!(r.headers, vec![("X-A".to_owned(), "b".to_owned())]);
        let r = parse_cgi_output(b"Content-Type: text/plain\n\nok").unwrap();
        assert_eq!((r.status, r.body.as_slice()), (200, &b"ok"[..]));
    }

    #[test]
    fn percent_escapes_are_decoded() {
        assert_eq!(percent_decode("/a%20b/c%2"), "/a b/c%2");
    }
}
