//! Small PDFs made for the tests and the bench: text on one or more pages,
//! encrypted, and images only (what a scanned document looks like).

use lopdf::content::{Content, Operation};
use lopdf::{
    dictionary, Document, EncryptionState, EncryptionVersion, Object, Permissions, Stream,
};

/// A new document with `pages` (each a content stream) under one page
/// tree, a Helvetica font, and `title` in its Info dictionary.
fn document(title: &str, pages: Vec<Content>, image: Option<Stream>) -> Document {
    let mut doc = Document::with_version("1.5");
    let pages_id = doc.new_object_id();
    let font_id = doc.add_object(dictionary! {
        "Type" => "Font",
        "Subtype" => "Type1",
        "BaseFont" => "Helvetica",
        "Encoding" => "WinAnsiEncoding",
    });
    let mut resources = dictionary! {
        "Font" => dictionary! { "F1" => font_id },
    };
    if let Some(image) = image {
        let image_id = doc.add_object(image);
        resources.set("XObject", dictionary! { "Im1" => image_id });
    }
    let resources_id = doc.add_object(resources);
    let kids: Vec<Object> = pages
        .into_iter()
        .map(|content| {
            let content_id = doc.add_object(Stream::new(
                dictionary! {},
                content.encode().expect("a content stream"),
            ));
            doc.add_object(dictionary! {
                "Type" => "Page",
                "Parent" => pages_id,
                "Contents" => content_id,
            })
            .into()
        })
        .collect();
    let count = kids.len() as i64;
    doc.objects.insert(
        pages_id,
        Object::Dictionary(dictionary! {
            "Type" => "Pages",
            "Kids" => kids,
            "Count" => count,
            "Resources" => resources_id,
            "MediaBox" => vec![0.into(), 0.into(), 595.into(), 842.into()],
        }),
    );
    let catalog_id = doc.add_object(dictionary! {
        "Type" => "Catalog",
        "Pages" => pages_id,
    });
    let info_id = doc.add_object(dictionary! {
        "Title" => Object::string_literal(title),
    });
    doc.trailer.set("Root", catalog_id);
    doc.trailer.set("Info", info_id);
    doc.trailer.set(
        "ID",
        vec![
            Object::string_literal(b"paperclip-sample".to_vec()),
            Object::string_literal(b"paperclip-sample".to_vec()),
        ],
    );
    doc
}

/// A page showing `lines` of text.
fn text_page(lines: &[&str]) -> Content {
    let mut operations = vec![
        Operation::new("BT", vec![]),
        Operation::new("Tf", vec!["F1".into(), 12.into()]),
        Operation::new("TL", vec![16.into()]),
        Operation::new("Td", vec![72.into(), 770.into()]),
    ];
    for line in lines {
        operations.push(Operation::new(
            "Tj",
            vec![Object::string_literal(line.as_bytes().to_vec())],
        ));
        operations.push(Operation::new("T*", vec![]));
    }
    operations.push(Operation::new("ET", vec![]));
    Content { operations }
}

fn save(mut doc: Document) -> Vec<u8> {
    let mut bytes = Vec::new();
    doc.save_to(&mut bytes).expect("a PDF in memory");
    bytes
}

/// A PDF titled `title` with one page per entry of `pages` (its lines
/// split at `\n`; ASCII text).
pub fn text_pdf(title: &str, pages: &[&str]) -> Vec<u8> {
    let contents = pages
        .iter()
        .map(|p| text_page(&p.lines().collect::<Vec<_>>()))
        .collect();
    save(document(title, contents, None))
}

/// A PDF of `pages` pages of about `lines_per_page` lines each, every line
/// naming its page ("Page 7, line 3: …"), for the bench.
pub fn long_pdf(pages: usize, lines_per_page: usize) -> Vec<u8> {
    let texts: Vec<String> = (1..=pages)
        .map(|p| {
            (1..=lines_per_page)
                .map(|l| {
                    format!(
                        "Page {p}, line {l}: the quick brown fox jumps over the lazy dog near the riverbank."
                    )
                })
                .collect::<Vec<_>>()
                .join("\n")
        })
        .collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    text_pdf(&format!("A {pages}-page document"), &refs)
}

/// A one-page PDF saying `text`, encrypted (RC4, 128-bit key) with the
/// user password `user_password` (empty: anyone may open it).
pub fn encrypted_pdf(user_password: &str, text: &str) -> Vec<u8> {
    let mut doc = document("Encrypted", vec![text_page(&[text])], None);
    let state = EncryptionState::try_from(EncryptionVersion::V2 {
        document: &doc,
        owner_password: "owner-secret",
        user_password,
        key_length: 128,
        permissions: Permissions::all(),
    })
    .expect("an encryption state");
    doc.encrypt(&state).expect("encrypted");
    save(doc)
}

/// A one-page PDF that only paints an image (8×8 grey pixels): no text.
pub fn image_only_pdf() -> Vec<u8> {
    let image = Stream::new(
        dictionary! {
            "Type" => "XObject",
            "Subtype" => "Image",
            "Width" => 8,
            "Height" => 8,
            "ColorSpace" => "DeviceGray",
            "BitsPerComponent" => 8,
        },
        vec![0x80; 64],
    );
    let page = Content {
        operations: vec![
            Operation::new("q", vec![]),
            Operation::new(
                "cm",
                vec![
                    400.into(),
                    0.into(),
                    0.into(),
                    400.into(),
                    100.into(),
                    300.into(),
                ],
            ),
            Operation::new("Do", vec!["Im1".into()]),
            Operation::new("Q", vec![]),
        ],
    };
    save(document("Scanned", vec![page], Some(image)))
}
