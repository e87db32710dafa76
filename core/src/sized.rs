//! JSON written once into a buffer of exactly its size: measured first
//! (a writer that only counts), then written. A growing buffer doubles, and
//! while it does the old and the new one are both held; in wasm, whose
//! memory never shrinks, such a peak for a large text (an export of
//! thousands of conversations) would be kept for the rest of the worker's
//! life.
//!
//! ```
//! let text = paperclip_core::sized::to_string(&vec![1, 2, 3], false).unwrap();
//! assert_eq!(text, "[1,2,3]");
//! assert_eq!(text.capacity(), text.len());
//! ```

use serde::Serialize;

/// A writer that only counts the bytes written to it.
#[derive(Default, Debug)]
struct Length(usize);

impl std::io::Write for Length {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0 += bytes.len();
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// `value` as JSON (`pretty`: indented as `serde_json::to_string_pretty`
/// does), in a string whose capacity is its length.
pub fn to_string<T: Serialize + ?Sized>(value: &T, pretty: bool) -> serde_json::Result<String> {
    let mut length = Length::default();
    write(&mut length, value, pretty)?;
    let mut out = Vec::with_capacity(length.0);
    write(&mut out, value, pretty)?;
    Ok(String::from_utf8(out).expect("serde_json writes UTF-8"))
}

/// Through `dyn Write`: one copy of the serialisation code per type for
/// both passes (a generic writer would instantiate it twice, and the
/// wasm would grow by that much).
fn write<T: Serialize + ?Sized>(
    w: &mut dyn std::io::Write,
    value: &T,
    pretty: bool,
) -> serde_json::Result<()> {
    if pretty {
        serde_json::to_writer_pretty(w, value)
    } else {
        serde_json::to_writer(w, value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn the_same_text_as_serde_json_at_its_exact_size(
            xs in proptest::collection::vec(any::<(String, f64, bool)>(), 0..50)
        ) {
            let compact = to_string(&xs, false).unwrap();
            prop_assert_eq!(&compact, &serde_json::to_string(&xs).unwrap());
            prop_assert_eq!(compact.capacity(), compact.len());
            let pretty = to_string(&xs, true).unwrap();
            prop_assert_eq!(&pretty, &serde_json::to_string_pretty(&xs).unwrap());
        }
    }
}
