//! Paperclip's PDF reader: the text of each page of a PDF, with
//! `pdf-extract` (fonts, encodings, ToUnicode maps) over `lopdf`.
//!
//! Built as a wasm module of its own (`dist/<browser>/pkg/pdf.wasm`, its
//! memory capped at 256 MB by `cargo xtask dist`) that imports
//! nothing: the background loads it only when a PDF is read, copies the
//! document into its memory and calls [`wasm`]'s exports. A panic in a
//! broken document traps the instance, which the background then drops.
//! The answer is JSON ([`Answer`]), checked again by the background
//! (`paperclip_core::pdf::parse_answer`).

pub use paperclip_core::pdf::{Answer, Refusal, Text, MAX_BYTES, MAX_CHARS, MAX_PAGES};

#[cfg(feature = "samples")]
pub mod samples;

/// Reads the text of `bytes`. The parsers panic on some broken documents:
/// natively that is caught here; in the wasm module (`panic = "abort"`)
/// it traps, and the background reports the document as broken.
pub fn read(bytes: &[u8]) -> Answer {
    match std::panic::catch_unwind(|| read_text(bytes)) {
        Ok(Ok(text)) => Answer::Ok(text),
        Ok(Err(refusal)) => Answer::Err(refusal),
        Err(_) => Answer::Err(Refusal::Broken {
            detail: "the PDF reader stopped on this document".into(),
        }),
    }
}

fn broken(e: impl std::fmt::Display) -> Refusal {
    let mut detail = e.to_string();
    detail.truncate(detail.floor_char_boundary(200));
    Refusal::Broken { detail }
}

fn read_text(bytes: &[u8]) -> Result<Text, Refusal> {
    if bytes.len() > MAX_BYTES {
        return Err(Refusal::TooLarge);
    }
    // The header may follow a little junk (the format allows 1 KB).
    let head = &bytes[..bytes.len().min(1024)];
    if !head.windows(5).any(|w| w == b"%PDF-") {
        return Err(Refusal::NotPdf);
    }
    let doc = match lopdf::Document::load_mem(bytes) {
        Ok(doc) => doc,
        Err(lopdf::Error::Decryption(_) | lopdf::Error::UnsupportedSecurityHandler(_)) => {
            return Err(Refusal::Encrypted)
        }
        Err(e) => return Err(broken(e)),
    };
    // The loader decrypts a document whose user password is empty (anyone
    // may open it); one that needs a password stays encrypted.
    if doc.is_encrypted() && doc.encryption_state.is_none() {
        return Err(Refusal::Encrypted);
    }
    let title = title(&doc);
    let numbers: Vec<u32> = doc.get_pages().keys().copied().collect();
    let page_count = numbers.len() as u32;
    let mut pages = Vec::new();
    let mut chars = 0;
    let mut truncated = false;
    for number in numbers {
        if pages.len() == MAX_PAGES || chars >= MAX_CHARS {
            truncated = true;
            break;
        }
        let mut text = String::new();
        {
            let mut out = pdf_extract::PlainTextOutput::new(&mut text);
            // A page that cannot be read is left empty; the others still count.
            let _ = pdf_extract::output_doc_page(&doc, &mut out, number);
        }
        let text = tidy(&text);
        let room = MAX_CHARS - chars;
        let text = match text.char_indices().nth(room) {
            Some((cut, _)) => {
                truncated = true;
                text[..cut].to_string()
            }
            None => text,
        };
        chars += text.chars().count();
        pages.push(text);
    }
    if pages.iter().all(|p| p.trim().is_empty()) {
        return Err(Refusal::NoText);
    }
    Ok(Text {
        title,
        page_count,
        pages,
        truncated,
    })
}

/// The Info dictionary's title, when it is text.
fn title(doc: &lopdf::Document) -> Option<String> {
    let info = doc.trailer.get(b"Info").ok()?;
    let info = match info {
        lopdf::Object::Reference(id) => doc.get_dictionary(*id).ok()?,
        lopdf::Object::Dictionary(d) => d,
        _ => return None,
    };
    let raw = info.get(b"Title").ok()?;
    let text = lopdf::decode_text_string(raw).ok()?;
    let text = text.trim();
    (!text.is_empty()).then(|| text.chars().take(300).collect())
}

/// Lines trimmed, runs of blank lines folded to one.
fn tidy(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut blank = true;
    for line in text.lines().map(str::trim_end) {
        if line.trim().is_empty() {
            if !blank {
                out.push('\n');
            }
            blank = true;
            continue;
        }
        out.push_str(line);
        out.push('\n');
        blank = false;
    }
    out.trim_end().to_string()
}

/// The module's exports: `pdf_alloc(len) -> ptr` (room for the document),
/// `pdf_read(ptr, len) -> len` (reads it, frees it, and keeps the JSON
/// [`Answer`]), `pdf_answer() -> ptr` (that JSON). One document at a time;
/// the background instantiates the module afresh for each document, so
/// its memory goes with it.
#[cfg(target_arch = "wasm32")]
pub mod wasm {
    use std::cell::RefCell;

    thread_local! {
        static ANSWER: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    }

    /// Room for `len` bytes of document; the background writes them there.
    #[no_mangle]
    pub extern "C" fn pdf_alloc(len: usize) -> *mut u8 {
        let mut buffer = Vec::<u8>::with_capacity(len);
        let ptr = buffer.as_mut_ptr();
        std::mem::forget(buffer);
        ptr
    }

    /// Reads the `len` bytes at `ptr` (from [`pdf_alloc`], freed here);
    /// returns the length of the JSON answer at [`pdf_answer`].
    ///
    /// # Safety
    /// `ptr` came from `pdf_alloc(len)` and holds `len` written bytes.
    #[no_mangle]
    pub unsafe extern "C" fn pdf_read(ptr: *mut u8, len: usize) -> usize {
        // SAFETY: the caller's contract above.
        let bytes = unsafe { Vec::from_raw_parts(ptr, len, len) };
        let answer = super::read(&bytes);
        drop(bytes);
        let json = serde_json::to_vec(&answer).unwrap_or_default();
        ANSWER.with(|a| {
            *a.borrow_mut() = json;
            a.borrow().len()
        })
    }

    /// The bytes `getrandom` gives `lopdf` in this module, which imports
    /// nothing (no browser randomness). The reader never encrypts and keeps
    /// no secret: `lopdf` draws random bytes only as filler while it checks
    /// a document's empty user password (only the first 16 bytes of that
    /// hash are compared) and when it encrypts. A fixed xorshift stream is
    /// enough for filler.
    ///
    /// # Safety
    /// `dest` points to `len` writable bytes (getrandom's contract).
    #[no_mangle]
    unsafe extern "Rust" fn __getrandom_v03_custom(
        dest: *mut u8,
        len: usize,
    ) -> Result<(), getrandom::Error> {
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        for i in 0..len {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            // SAFETY: `i < len`, within `dest` (the caller's contract).
            unsafe { dest.add(i).write(state as u8) };
        }
        Ok(())
    }

    /// The JSON answer of the last [`pdf_read`].
    #[no_mangle]
    pub extern "C" fn pdf_answer() -> *const u8 {
        ANSWER.with(|a| a.borrow().as_ptr())
    }
}

#[cfg(all(test, feature = "samples"))]
mod tests {
    use super::*;

    #[test]
    fn reads_the_text_of_every_page() {
        let pdf = samples::text_pdf(
            "Quarterly report",
            &[
                "Paperclip reads PDFs.",
                "The second page.",
                "Third and last.",
            ],
        );
        let Answer::Ok(text) = read(&pdf) else {
            panic!("{:?}", read(&pdf))
        };
        assert_eq!(text.title.as_deref(), Some("Quarterly report"));
        assert_eq!(text.page_count, 3);
        assert!(text.pages[0].contains("Paperclip reads PDFs."), "{text:?}");
        assert!(text.pages[1].contains("The second page."), "{text:?}");
        assert!(text.pages[2].contains("Third and last."), "{text:?}");
        assert!(!text.truncated);
    }

    #[test]
    fn refuses_what_it_cannot_read_with_the_reason() {
        assert_eq!(
            read(b"<html>not a pdf</html>"),
            Answer::Err(Refusal::NotPdf)
        );
        assert_eq!(
            read(&samples::encrypted_pdf("secret", "Hidden text.")),
            Answer::Err(Refusal::Encrypted)
        );
        assert_eq!(
            read(&samples::image_only_pdf()),
            Answer::Err(Refusal::NoText)
        );
        let mut cut = samples::text_pdf("t", &["Some text here."]);
        cut.truncate(cut.len() / 3);
        assert!(matches!(read(&cut), Answer::Err(_)), "{:?}", read(&cut));
    }

    #[test]
    fn a_document_without_a_user_password_is_read() {
        let pdf = samples::encrypted_pdf("", "Readable anyway.");
        let Answer::Ok(text) = read(&pdf) else {
            panic!("{:?}", read(&pdf))
        };
        assert!(text.pages[0].contains("Readable anyway."), "{text:?}");
    }

    #[test]
    fn a_broken_document_is_an_answer_not_a_crash() {
        std::panic::set_hook(Box::new(|_| {}));
        let pdf = samples::text_pdf("t", &["Some text here, long enough."]);
        let mut refused = 0;
        for i in (0..pdf.len()).step_by(7) {
            let mut bad = pdf.clone();
            bad[i] ^= 0x5a;
            if let Answer::Err(Refusal::Broken { detail }) = read(&bad) {
                assert!(detail.len() <= 200, "{detail}");
                refused += 1;
            }
        }
        let _ = std::panic::take_hook();
        assert!(refused > 0, "some corruptions break the structure");
    }
}
