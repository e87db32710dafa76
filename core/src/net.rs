//! Network addresses: which hosts are this machine. A secret (an API key,
//! telemetry) may travel over plain `http` only to these; anywhere else it
//! needs `https`.
//!
//! ```
//! use paperclip_core::net::{is_loopback_host, plain_http_allowed};
//! assert!(is_loopback_host("127.0.0.1") && is_loopback_host("[::1]"));
//! assert!(!is_loopback_host("192.168.1.2"));
//! assert!(plain_http_allowed("http://localhost:4318/v1/traces"));
//! assert!(!plain_http_allowed("http://collector.example/v1/traces"));
//! assert!(plain_http_allowed("https://collector.example"));
//! ```

/// Whether `host` (lowercase; `[...]` for IPv6; no port) is this machine:
/// `localhost`, `*.localhost`, `127.0.0.0/8` or `[::1]`.
pub fn is_loopback_host(host: &str) -> bool {
    if host == "localhost" || host.ends_with(".localhost") || host == "[::1]" {
        return true;
    }
    let parts: Vec<&str> = host.split('.').collect();
    parts.len() == 4 && parts.iter().all(|p| p.parse::<u8>().is_ok()) && parts[0] == "127"
}

/// The host of an `http(s)://` URL (lowercase; without user info or port).
pub fn url_host(url: &str) -> Option<String> {
    let lower = url.trim().to_ascii_lowercase();
    let rest = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"))?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host_port = authority.rsplit('@').next().unwrap_or("");
    let host = if host_port.starts_with('[') {
        host_port.split_inclusive(']').next().unwrap_or("")
    } else {
        host_port.split(':').next().unwrap_or("")
    };
    (!host.is_empty()).then(|| host.to_string())
}

/// Whether something secret may be sent to `url`: over `https`, or over
/// plain `http` only to this machine.
pub fn plain_http_allowed(url: &str) -> bool {
    let lower = url.trim().to_ascii_lowercase();
    if lower.starts_with("https://") {
        return true;
    }
    lower.starts_with("http://") && url_host(url).is_some_and(|h| is_loopback_host(&h))
}

/// The origin of `url` (`scheme://host[:port]`) when it is an http(s) URL,
/// as the browser writes it (already normalised); empty otherwise.
pub fn origin_of_url(url: &str) -> &str {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "";
    };
    if scheme != "http" && scheme != "https" {
        return "";
    }
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    &url[..scheme.len() + 3 + end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts() {
        for h in [
            "localhost",
            "app.localhost",
            "127.0.0.1",
            "127.1.2.3",
            "[::1]",
        ] {
            assert!(is_loopback_host(h), "{h}");
        }
        for h in [
            "192.168.0.5",
            "10.0.0.1",
            "127.0.0.1.evil.example",
            "localhost.evil.example",
            "127.0.0",
            "1270.0.0.1",
            "[::2]",
            "",
        ] {
            assert!(!is_loopback_host(h), "{h}");
        }
    }

    #[test]
    fn hosts_of_urls() {
        assert_eq!(
            url_host("http://user:pw@127.0.0.1:4318/x").as_deref(),
            Some("127.0.0.1")
        );
        assert_eq!(url_host("http://[::1]:8080/").as_deref(), Some("[::1]"));
        assert_eq!(
            url_host("HTTPS://Example.ORG?x").as_deref(),
            Some("example.org")
        );
        assert_eq!(url_host("ftp://x"), None);
        assert_eq!(url_host("http:///x"), None);
        // The user info is not the host: this goes to evil.example.
        assert!(!plain_http_allowed("http://127.0.0.1@evil.example/"));
        assert!(plain_http_allowed("http://evil.example@127.0.0.1/"));
    }

    #[test]
    fn origins_of_urls() {
        assert_eq!(super::origin_of_url("https://a.test/x?y"), "https://a.test");
        assert_eq!(super::origin_of_url("http://a.test:81"), "http://a.test:81");
        assert_eq!(super::origin_of_url("http://a.test?q"), "http://a.test");
        assert_eq!(super::origin_of_url("file:///etc"), "");
        assert_eq!(super::origin_of_url("nothing"), "");
    }
}
