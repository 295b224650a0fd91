//! The one way text reaches a page: [`escape`], and the page frame every
//! answer shares (navigation, search form, the stylesheet), with the
//! headers that let a browser load the stylesheet and nothing else.

use std::fmt::Write as _;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// The `Content-Security-Policy` of every UI answer: the stylesheet from
/// this server, images from this server, forms only to this server, no
/// script, no frame.
pub const POLICY: &str = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Escapes text for HTML content and quoted attribute values, as the
/// auditor's report does: the five markup characters become entities, and
/// characters that would hide or reorder what a person reads (controls,
/// bidirectional overrides, zero-width characters) become U+FFFD, so a
/// package name shows as the bytes differ.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    airlift_report::escape_into(&mut out, text);
    out
}

/// Characters kept in a path of a link: the unreserved ones and `/`, `@`
/// and `:`, which names carry (`team/app`, `@scope/name`).
const PATH: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'/')
    .remove(b'@')
    .remove(b':');

/// Characters kept in a query value: the unreserved ones.
const QUERY: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// `text` percent-encoded for a link's path (`/` kept).
pub fn path(text: &str) -> String {
    utf8_percent_encode(text, PATH).to_string()
}

/// `text` percent-encoded for a query value.
pub fn query(text: &str) -> String {
    utf8_percent_encode(text, QUERY).to_string()
}

/// The pages of the navigation: path and label.
const NAV: &[(&str, &str)] = &[
    ("/ui/", "Overview"),
    ("/ui/browse", "Browse"),
    ("/ui/imports", "Imports"),
    ("/ui/audit", "Audit log"),
    ("/ui/documents", "SBOMs and drift"),
    ("/ui/environments", "Environments"),
];

/// A whole page: `title` (already plain text, escaped here), the section
/// of the navigation it belongs to, and `body` (HTML, escaped by the
/// caller).
pub fn page(status: StatusCode, title: &str, section: &str, body: &str) -> Response {
    let mut nav = String::new();
    for (href, label) in NAV {
        let current = if *href == section {
            " aria-current=\"page\""
        } else {
            ""
        };
        let _ = write!(nav, "<li><a href=\"{href}\"{current}>{label}</a></li>");
    }
    let text = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title} · airlift</title>\
         <link rel=\"stylesheet\" href=\"/ui/static/{css}\"></head>\n<body>\n\
         <header><a class=\"brand\" href=\"/ui/\">airlift</a>\
         <nav aria-label=\"Sections\"><ul>{nav}</ul></nav>\
         <form role=\"search\" method=\"get\" action=\"/ui/browse\">\
         <label for=\"q\">Search packages</label> \
         <input id=\"q\" name=\"q\" type=\"search\" autocomplete=\"off\"> \
         <button type=\"submit\">Search</button></form></header>\n\
         <main id=\"main\">\n<h1>{title}</h1>\n{body}</main>\n\
         <footer><a href=\"/\">Server home</a> · <a href=\"/healthz\">/healthz</a> · \
         <a href=\"/metrics\">/metrics</a></footer>\n</body></html>\n",
        title = escape(title),
        css = crate::STYLE_NAME,
    );
    let mut response = (status, text).into_response();
    set_headers(&mut response, "text/html; charset=utf-8");
    response
}

/// The headers of every UI answer.
pub fn set_headers(response: &mut Response, content_type: &'static str) {
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(POLICY),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    }
}

/// A page that says something went wrong, with `status`.
pub fn problem(status: StatusCode, message: &str) -> Response {
    page(
        status,
        status.canonical_reason().unwrap_or("Error"),
        "",
        &format!("<p class=\"problem\">{}</p>\n", escape(message)),
    )
}

/// A table of `rows` (each already HTML) under `headings`, with a caption.
pub fn table(caption: &str, headings: &[&str], rows: &str) -> String {
    let mut head = String::new();
    for heading in headings {
        let _ = write!(head, "<th scope=\"col\">{heading}</th>");
    }
    format!(
        "<div class=\"scroll\"><table>\n<caption>{caption}</caption>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{rows}</tbody></table></div>\n"
    )
}

/// Links to the previous and next pages of a listing of `total` items,
/// `per` a page, the current one `page` (from 1); `link` makes a page's
/// href.
pub fn pager(total: usize, per: usize, page: usize, link: impl Fn(usize) -> String) -> String {
    let pages = total.div_ceil(per).max(1);
    if pages == 1 {
        return String::new();
    }
    let mut out = String::from("<nav class=\"pager\" aria-label=\"Pages\"><p>");
    if page > 1 {
        let _ = write!(
            out,
            "<a rel=\"prev\" href=\"{}\">Previous</a> ",
            escape(&link(page - 1))
        );
    }
    let _ = write!(out, "page {page} of {pages}");
    if page < pages {
        let _ = write!(
            out,
            " <a rel=\"next\" href=\"{}\">Next</a>",
            escape(&link(page + 1))
        );
    }
    out.push_str("</p></nav>\n");
    out
}

/// A byte count for people (`1.5 MiB`).
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["bytes", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} bytes")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// A Unix time as RFC 3339 (UTC), or the number when it is out of range.
pub fn time(unix: i64) -> String {
    jiff::Timestamp::from_second(unix).map_or_else(|_| unix.to_string(), |t| t.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_leaves_no_markup() {
        assert_eq!(
            escape("<script>alert(\"x\" & 'y')</script>"),
            "&lt;script&gt;alert(&quot;x&quot; &amp; &#39;y&#39;)&lt;/script&gt;"
        );
        // A right-to-left override would show `evil\u{202E}gpj.exe` as
        // another name.
        assert_eq!(escape("evil\u{202E}gpj.exe"), "evil\u{FFFD}gpj.exe");
    }

    #[test]
    fn paths_keep_slashes_and_encode_the_rest() {
        assert_eq!(path("@team/a b<"), "@team/a%20b%3C");
        assert_eq!(query("a/b c"), "a%2Fb%20c");
    }

    #[test]
    fn the_pager_links_only_existing_pages() {
        assert_eq!(pager(10, 10, 1, |p| format!("?page={p}")), "");
        let middle = pager(30, 10, 2, |p| format!("?page={p}"));
        assert!(
            middle.contains("?page=1") && middle.contains("?page=3"),
            "{middle}"
        );
        let last = pager(30, 10, 3, |p| format!("?page={p}"));
        assert!(!last.contains("Next"), "{last}");
    }

    #[test]
    fn byte_counts_read_well() {
        assert_eq!(bytes(12), "12 bytes");
        assert_eq!(bytes(1536), "1.5 KiB");
    }
}
