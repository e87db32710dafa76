//! A static file server on 127.0.0.1 for the demo and test pages.
//!
//! `/` serves `demo/index.html`; `/pages/NAME` serves `tests/pages/NAME`;
//! `/fixtures/NAME` serves the extraction tests' saved pages
//! (`core/tests/fixtures/pages/NAME`);
//! anything under `/strict/` is served from the same folders with
//! `Content-Security-Policy: default-src 'none'; script-src 'self'`.
//! `/pdf/NAME` serves PDFs made by `paperclip_pdf::samples` ([`sample_pdf`]).
//! `/bench/PATH` serves `target/bench/www/PATH` (the storage benchmark, staged
//! by `cargo xtask bench storage`) cross-origin isolated (COOP + COEP), so
//! that `performance.now()` is not coarsened to 100 µs.

use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The strict policy of the `/strict/` pages.
pub const STRICT_CSP: &str = "default-src 'none'; script-src 'self'";

/// A running server; stops when dropped.
pub struct Server {
    server: Arc<tiny_http::Server>,
    port: u16,
}

impl Server {
    /// Serves `root` (the workspace) on a free loopback port.
    pub fn start(root: &Path) -> anyhow::Result<Server> {
        let server = Arc::new(
            tiny_http::Server::http("127.0.0.1:0").map_err(|e| anyhow::anyhow!("server: {e}"))?,
        );
        let port = server
            .server_addr()
            .to_ip()
            .expect("bound to an IP address")
            .port();
        let root = root.to_path_buf();
        let worker = server.clone();
        std::thread::spawn(move || {
            for request in worker.incoming_requests() {
                let _ = respond(&root, request);
            }
        });
        Ok(Server { server, port })
    }

    /// `http://127.0.0.1:PORT` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{}", self.port, path)
    }

    /// The origin, `http://127.0.0.1:PORT`.
    pub fn origin(&self) -> String {
        self.url("")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.server.unblock();
    }
}

/// The PDFs of `/pdf/NAME`: `text.pdf` (one page), `pages.pdf` (three
/// pages, each saying which it is), `encrypted.pdf` (needs a password),
/// `open-encrypted.pdf` (encrypted, no user password: anyone may read it),
/// `scanned.pdf` (an image, no text), `long.pdf` (50 pages, the bench's).
pub fn sample_pdf(name: &str) -> Option<Vec<u8>> {
    use paperclip_pdf::samples;
    Some(match name {
        "text.pdf" => samples::text_pdf(
            "Paperclip test document",
            &["Paperclips were patented by Johan Vaaler in 1899.\nThey hold paper together."],
        ),
        "pages.pdf" => samples::text_pdf(
            "Three pages",
            &[
                "The first page is about apples.",
                "The second page is about bananas.",
                "The third page is about cherries.",
            ],
        ),
        "encrypted.pdf" => {
            samples::encrypted_pdf("secret", "Nobody reads this without the password.")
        }
        "open-encrypted.pdf" => samples::encrypted_pdf("", "Encrypted, but anyone may open it."),
        "scanned.pdf" => samples::image_only_pdf(),
        "long.pdf" => samples::long_pdf(50, 40),
        _ => return None,
    })
}

fn respond(root: &Path, request: tiny_http::Request) -> std::io::Result<()> {
    let path = request.url().split('?').next().unwrap_or("/").to_string();
    if let Some(pdf) = path.strip_prefix("/pdf/").and_then(sample_pdf) {
        let kind =
            tiny_http::Header::from_bytes("Content-Type", "application/pdf").expect("valid header");
        return request.respond(tiny_http::Response::from_data(pdf).with_header(kind));
    }
    let (strict, path) = match path.strip_prefix("/strict") {
        Some(rest) => (true, rest.to_string()),
        None => (false, path),
    };
    let bench = path.strip_prefix("/bench/");
    let file: Option<PathBuf> = if path == "/" || path == "/index.html" {
        Some(root.join("demo/index.html"))
    } else if let Some(name) = path.strip_prefix("/pages/") {
        (!name.contains("..")).then(|| root.join("tests/pages").join(name))
    } else if let Some(name) = path.strip_prefix("/fixtures/") {
        (!name.contains("..")).then(|| root.join("core/tests/fixtures/pages").join(name))
    } else if let Some(name) = bench {
        (!name.contains("..")).then(|| root.join("target/bench/www").join(name))
    } else {
        None
    };
    let Some(body) = file.and_then(|f| std::fs::read(&f).ok().map(|b| (f, b))) else {
        return request
            .respond(tiny_http::Response::from_string("not found").with_status_code(404));
    };
    let (file, bytes) = body;
    let kind = match file.extension().and_then(|e| e.to_str()) {
        Some("html") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript",
        Some("css") => "text/css",
        Some("wasm") => "application/wasm",
        Some("json") => "application/json",
        _ => "application/octet-stream",
    };
    let mut response = tiny_http::Response::from_data(bytes)
        .with_header(tiny_http::Header::from_bytes("Content-Type", kind).expect("valid header"));
    if bench.is_some() {
        for (name, value) in [
            ("Cross-Origin-Opener-Policy", "same-origin"),
            ("Cross-Origin-Embedder-Policy", "require-corp"),
            ("Cache-Control", "no-store"),
        ] {
            response = response
                .with_header(tiny_http::Header::from_bytes(name, value).expect("valid header"));
        }
    }
    if strict {
        response = response.with_header(
            tiny_http::Header::from_bytes("Content-Security-Policy", STRICT_CSP)
                .expect("valid header"),
        );
    }
    request.respond(response)
}
