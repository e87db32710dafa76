//! An incremental `text/event-stream` decoder, [`SseDecoder`], following the
//! WHATWG HTML "event stream interpretation" rules.
//!
//! Bytes go in as the network delivers them (any split: inside a line,
//! between CR and LF, inside a multi-byte UTF-8 character); whole
//! [`SseEvent`]s come out. Lines end at LF, CR or CRLF; lines starting with
//! `:` are comments; `data:` lines are joined with `\n`; one space after the
//! colon is dropped; a leading byte-order mark is skipped; invalid UTF-8
//! becomes U+FFFD; an event is dispatched at a blank line only when it has
//! data; the last event id is sticky; `retry:` is ignored (the background
//! does not reconnect by itself). Lines and events are bounded by
//! [`SseLimits`]: a 10 MB line is an error, not 10 MB of memory.
//!
//! ```
//! use paperclip_core::provider::sse::SseDecoder;
//!
//! let mut decoder = SseDecoder::default();
//! assert!(decoder.push(b"event: ping\r\ndata: {\"a\"").unwrap().is_empty());
//! let events = decoder.push(b":1}\r\n\r\n").unwrap();
//! assert_eq!(events[0].event.as_deref(), Some("ping"));
//! assert_eq!(events[0].data, "{\"a\":1}");
//! decoder.finish().unwrap();
//! ```

use serde::{Deserialize, Serialize};

/// Default longest line, in bytes (1 MiB).
pub const DEFAULT_MAX_LINE_BYTES: usize = 1 << 20;
/// Default largest event (data + event name), in bytes (4 MiB).
pub const DEFAULT_MAX_EVENT_BYTES: usize = 4 << 20;

/// One dispatched event.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event:` name, `None` when absent or empty (the spec's default
    /// type `message`).
    pub event: Option<String>,
    /// The `data:` lines joined by `\n`.
    pub data: String,
    /// The last event id seen so far in the stream (sticky), if any.
    pub id: Option<String>,
}

/// Bounds on memory used by the decoder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SseLimits {
    /// Longest line, in bytes, without its line end.
    pub max_line_bytes: usize,
    /// Largest event: data plus event name, in bytes.
    pub max_event_bytes: usize,
}

impl Default for SseLimits {
    fn default() -> Self {
        Self {
            max_line_bytes: DEFAULT_MAX_LINE_BYTES,
            max_event_bytes: DEFAULT_MAX_EVENT_BYTES,
        }
    }
}

/// Why the event stream cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum SseError {
    /// A line is longer than [`SseLimits::max_line_bytes`].
    #[error("an event-stream line is longer than {limit} bytes")]
    LineTooLong {
        /// The limit.
        limit: usize,
    },
    /// An event is larger than [`SseLimits::max_event_bytes`].
    #[error("an event is larger than {limit} bytes")]
    EventTooLarge {
        /// The limit.
        limit: usize,
    },
    /// The stream ended inside an event; it was discarded, as the spec says
    /// (reported by [`SseDecoder::finish`]).
    #[error("the event stream ended in the middle of an event")]
    Incomplete,
}

/// The incremental decoder. After an error every later call returns the
/// same error.
#[derive(Debug, Clone)]
pub struct SseDecoder {
    limits: SseLimits,
    /// Bytes of the current line (without its end).
    line: Vec<u8>,
    /// The previous byte was a CR: a following LF belongs to it.
    after_cr: bool,
    /// No line has been completed yet (a BOM may still come).
    at_start: bool,
    data: String,
    event_type: String,
    last_id: String,
    failed: Option<SseError>,
}

impl Default for SseDecoder {
    fn default() -> Self {
        Self::new(SseLimits::default())
    }
}

impl SseDecoder {
    /// A decoder with the given limits.
    pub fn new(limits: SseLimits) -> Self {
        Self {
            limits,
            line: Vec::new(),
            after_cr: false,
            at_start: true,
            data: String::new(),
            event_type: String::new(),
            last_id: String::new(),
            failed: None,
        }
    }

    /// Decodes the next bytes and returns the events they complete. On an
    /// error, events completed earlier in the same chunk are lost; use
    /// [`Self::push_into`] to keep them.
    pub fn push(&mut self, bytes: &[u8]) -> Result<Vec<SseEvent>, SseError> {
        let mut out = Vec::new();
        self.push_into(bytes, &mut out)?;
        Ok(out)
    }

    /// Decodes the next bytes, appending completed events to `out` (which
    /// keeps them even when an error follows).
    pub fn push_into(&mut self, mut bytes: &[u8], out: &mut Vec<SseEvent>) -> Result<(), SseError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        while !bytes.is_empty() {
            if std::mem::take(&mut self.after_cr) && bytes[0] == b'\n' {
                bytes = &bytes[1..];
                continue;
            }
            let Some(end) = bytes.iter().position(|&b| b == b'\n' || b == b'\r') else {
                return self.extend_line(bytes);
            };
            self.extend_line(&bytes[..end])?;
            self.after_cr = bytes[end] == b'\r';
            bytes = &bytes[end + 1..];
            if let Err(e) = self.end_line(out) {
                return Err(self.fail(e));
            }
        }
        Ok(())
    }

    /// Ends the stream. Per the spec a partly received event is discarded;
    /// this reports it as [`SseError::Incomplete`] (callers decide whether
    /// it matters).
    pub fn finish(&mut self) -> Result<(), SseError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let pending = !self.line.is_empty() || !self.data.is_empty();
        self.line.clear();
        self.data.clear();
        self.event_type.clear();
        if pending {
            return Err(SseError::Incomplete);
        }
        Ok(())
    }

    fn fail(&mut self, e: SseError) -> SseError {
        self.failed = Some(e.clone());
        e
    }

    fn extend_line(&mut self, bytes: &[u8]) -> Result<(), SseError> {
        if self.line.len() + bytes.len() > self.limits.max_line_bytes {
            return Err(self.fail(SseError::LineTooLong {
                limit: self.limits.max_line_bytes,
            }));
        }
        self.line.extend_from_slice(bytes);
        Ok(())
    }

    fn end_line(&mut self, out: &mut Vec<SseEvent>) -> Result<(), SseError> {
        let mut bytes = std::mem::take(&mut self.line);
        if std::mem::take(&mut self.at_start) && bytes.starts_with(b"\xEF\xBB\xBF") {
            bytes.drain(..3);
        }
        let line = String::from_utf8_lossy(&bytes);
        let result = self.process_line(&line, out);
        bytes.clear();
        self.line = bytes; // keep the allocation
        result
    }

    fn process_line(&mut self, line: &str, out: &mut Vec<SseEvent>) -> Result<(), SseError> {
        if line.is_empty() {
            self.dispatch(out);
            return Ok(());
        }
        if line.starts_with(':') {
            return Ok(());
        }
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line, ""),
        };
        match field {
            "event" => value.clone_into(&mut self.event_type),
            "data" => {
                self.data.push_str(value);
                self.data.push('\n');
            }
            "id" if !value.contains('\0') => value.clone_into(&mut self.last_id),
            _ => {}
        }
        if self.data.len() + self.event_type.len() > self.limits.max_event_bytes {
            return Err(SseError::EventTooLarge {
                limit: self.limits.max_event_bytes,
            });
        }
        Ok(())
    }

    fn dispatch(&mut self, out: &mut Vec<SseEvent>) {
        let event_type = std::mem::take(&mut self.event_type);
        if self.data.is_empty() {
            return;
        }
        let mut data = std::mem::take(&mut self.data);
        data.pop(); // the final "\n"
        out.push(SseEvent {
            event: (!event_type.is_empty()).then_some(event_type),
            data,
            id: (!self.last_id.is_empty()).then(|| self.last_id.clone()),
        });
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn ev(event: Option<&str>, data: &str, id: Option<&str>) -> SseEvent {
        SseEvent {
            event: event.map(Into::into),
            data: data.into(),
            id: id.map(Into::into),
        }
    }

    fn decode(bytes: &[u8]) -> Vec<SseEvent> {
        let mut d = SseDecoder::default();
        let events = d.push(bytes).unwrap();
        d.finish().unwrap();
        events
    }

    #[test]
    fn fields_comments_and_blank_lines() {
        let input = b": hello\n\nevent: add\ndata: a\ndata:b\ndata:  c\nid: 7\nretry: 10\nunknown: x\n\ndata\n\n";
        assert_eq!(
            decode(input),
            vec![
                ev(Some("add"), "a\nb\n c", Some("7")),
                ev(None, "", Some("7"))
            ]
        );
    }

    #[test]
    fn events_without_data_are_not_dispatched_and_reset_the_name() {
        assert_eq!(
            decode(b"event: ping\n\ndata: x\n\n"),
            vec![ev(None, "x", None)]
        );
    }

    #[test]
    fn line_ends_lf_cr_crlf_mixed() {
        let want = vec![ev(Some("e"), "1\n2", None), ev(None, "3", None)];
        for input in [
            &b"event: e\ndata: 1\ndata: 2\n\ndata: 3\n\n"[..],
            b"event: e\rdata: 1\rdata: 2\r\rdata: 3\r\r",
            b"event: e\r\ndata: 1\r\ndata: 2\r\n\r\ndata: 3\r\n\r\n",
            b"event: e\r\ndata: 1\rdata: 2\n\r\ndata: 3\n\r",
        ] {
            assert_eq!(decode(input), want, "{:?}", String::from_utf8_lossy(input));
        }
    }

    #[test]
    fn cr_at_chunk_end_and_lf_at_next_start_is_one_line_end() {
        let mut d = SseDecoder::default();
        assert!(d.push(b"data: a\r").unwrap().is_empty());
        assert_eq!(d.push(b"\n\r").unwrap(), vec![ev(None, "a", None)]);
        assert!(d.push(b"\ndata: b\r\n").unwrap().is_empty());
        assert_eq!(d.push(b"\r\n").unwrap(), vec![ev(None, "b", None)]);
    }

    #[test]
    fn utf8_split_across_chunks_and_invalid_bytes() {
        let text = "data: caf\u{e9} \u{1f4ce}\n\n".as_bytes();
        let mut d = SseDecoder::default();
        let mut events = Vec::new();
        for b in text {
            events.extend(d.push(std::slice::from_ref(b)).unwrap());
        }
        assert_eq!(events, vec![ev(None, "caf\u{e9} \u{1f4ce}", None)]);
        assert_eq!(
            decode(b"data: \xff\xfe\n\n"),
            vec![ev(None, "\u{fffd}\u{fffd}", None)]
        );
    }

    #[test]
    fn leading_bom_is_skipped_once() {
        let mut d = SseDecoder::default();
        d.push(b"\xEF\xBB").unwrap();
        assert_eq!(
            d.push(b"\xBFdata: x\n\n").unwrap(),
            vec![ev(None, "x", None)]
        );
        // a BOM later is not special: the line's field name is "\u{feff}data"
        assert!(d.push(b"\xEF\xBB\xBFdata: y\n\n").unwrap().is_empty());
    }

    #[test]
    fn ids_are_sticky_and_nul_ids_ignored() {
        let input = b"id: 1\ndata: a\n\ndata: b\n\nid: x\0y\ndata: c\n\nid\ndata: d\n\n";
        assert_eq!(
            decode(input),
            vec![
                ev(None, "a", Some("1")),
                ev(None, "b", Some("1")),
                ev(None, "c", Some("1")),
                ev(None, "d", None)
            ]
        );
    }

    #[test]
    fn a_ten_megabyte_line_is_an_error_not_memory() {
        let mut d = SseDecoder::default();
        d.push(b"data: ").unwrap();
        let chunk = vec![b'x'; 64 * 1024];
        let mut err = None;
        for _ in 0..160 {
            if let Err(e) = d.push(&chunk) {
                err = Some(e);
                break;
            }
        }
        assert_eq!(
            err,
            Some(SseError::LineTooLong {
                limit: DEFAULT_MAX_LINE_BYTES
            })
        );
        assert!(d.line.len() <= DEFAULT_MAX_LINE_BYTES);
        assert_eq!(
            d.push(b"\n\n"),
            Err(SseError::LineTooLong {
                limit: DEFAULT_MAX_LINE_BYTES
            })
        );
        assert_eq!(
            d.finish(),
            Err(SseError::LineTooLong {
                limit: DEFAULT_MAX_LINE_BYTES
            })
        );
    }

    #[test]
    fn many_data_lines_are_bounded_by_the_event_limit() {
        let mut d = SseDecoder::new(SseLimits {
            max_line_bytes: 100,
            max_event_bytes: 1000,
        });
        let mut out = Vec::new();
        d.push_into(b"data: ok\n\n", &mut out).unwrap();
        let line = format!("data: {}\n", "y".repeat(90));
        let err = (0..20).find_map(|_| d.push_into(line.as_bytes(), &mut out).err());
        assert_eq!(err, Some(SseError::EventTooLarge { limit: 1000 }));
        assert_eq!(out, vec![ev(None, "ok", None)]);
    }

    #[test]
    fn finish_reports_a_discarded_partial_event() {
        let mut d = SseDecoder::default();
        assert!(d.push(b"data: partial\n").unwrap().is_empty());
        assert_eq!(d.finish(), Err(SseError::Incomplete));
        let mut d = SseDecoder::default();
        d.push(b"data: x").unwrap();
        assert_eq!(d.finish(), Err(SseError::Incomplete));
        let mut d = SseDecoder::default();
        d.push(b": comment only\n").unwrap();
        assert_eq!(d.finish(), Ok(()));
    }

    proptest! {
        #[test]
        fn never_panics_and_respects_limits(chunks in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..64), 0..32)) {
            let limits = SseLimits { max_line_bytes: 48, max_event_bytes: 96 };
            let mut d = SseDecoder::new(limits);
            for chunk in &chunks {
                if let Ok(events) = d.push(chunk) {
                    for e in events {
                        prop_assert!(e.data.len() + e.event.map_or(0, |n| n.len()) <= 96);
                    }
                }
                prop_assert!(d.line.len() <= 48);
            }
            let _ = d.finish();
        }

        #[test]
        fn any_split_gives_the_same_events(
            text in "((event|data|id|:|x)(: ?)?[a-zé📎 ]{0,6}(\n|\r|\r\n)){0,24}",
            cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..8),
        ) {
            let bytes = text.as_bytes();
            let mut whole = SseDecoder::default();
            let want = whole.push(bytes).unwrap();
            let mut points: Vec<usize> = cuts.iter().map(|i| i.index(bytes.len() + 1)).collect();
            points.sort_unstable();
            let mut d = SseDecoder::default();
            let mut got = Vec::new();
            let mut start = 0;
            for p in points.into_iter().chain([bytes.len()]) {
                got.extend(d.push(&bytes[start..p]).unwrap());
                start = p;
            }
            prop_assert_eq!(got, want);
            prop_assert_eq!(d.finish(), whole.finish());
        }
    }
}
