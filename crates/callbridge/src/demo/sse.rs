//! A reader of `text/event-stream`, fed the bytes as they arrive in whatever chunks.

/// One dispatched event.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SseFrame {
    /// `message` when the stream named none, as an EventSource would.
    pub event: String,
    pub id: Option<String>,
    pub data: String,
}

/// Accumulates bytes and hands out complete frames; comments (keep-alives) are skipped.
#[derive(Debug, Default)]
pub struct SseParser {
    buffer: Vec<u8>,
    event: Option<String>,
    id: Option<String>,
    data: Vec<String>,
}

impl SseParser {
    pub fn new() -> Self {
        Self::default()
    }

    /// Every frame that `chunk` completed, in order.
    pub fn feed(&mut self, chunk: &[u8]) -> Vec<SseFrame> {
        self.buffer.extend_from_slice(chunk);
        let mut frames = Vec::new();
        while let Some(end) = self.buffer.iter().position(|&b| b == b'\n') {
            let mut line: Vec<u8> = self.buffer.drain(..=end).collect();
            line.pop();
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            let line = String::from_utf8_lossy(&line).into_owned();
            if let Some(frame) = self.line(&line) {
                frames.push(frame);
            }
        }
        frames
    }

    fn line(&mut self, line: &str) -> Option<SseFrame> {
        if line.is_empty() {
            return self.dispatch();
        }
        if line.starts_with(':') {
            return None;
        }
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line, ""),
        };
        match field {
            "event" => self.event = Some(value.to_owned()),
            "id" => self.id = Some(value.to_owned()),
            "data" => self.data.push(value.to_owned()),
            _ => {}
        }
        None
    }

    fn dispatch(&mut self) -> Option<SseFrame> {
        let event = self.event.take();
        let id = self.id.take();
        if self.data.is_empty() {
            return None;
        }
        let data = std::mem::take(&mut self.data).join("\n");
        Some(SseFrame {
            event: event
                .filter(|e| !e.is_empty())
                .unwrap_or_else(|| "message".into()),
            id,
            data,
        })
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const STREAM: &str = ": keep-alive\n\nevent: state\ndata: {\"state\":\"created\"}\n\n\
                          event: event\nid: 42\ndata: line one\ndata: line two\n\n\
                          data:no space\r\n\r\n";

    fn expected() -> Vec<SseFrame> {
        vec![
            SseFrame {
                event: "state".into(),
                id: None,
                data: "{\"state\":\"created\"}".into(),
            },
            SseFrame {
                event: "event".into(),
                id: Some("42".into()),
                data: "line one\nline two".into(),
            },
            SseFrame {
                event: "message".into(),
                id: None,
                data: "no space".into(),
            },
        ]
    }

    #[test]
    fn reads_named_events_ids_multiline_data_and_skips_comments() {
        assert_eq!(SseParser::new().feed(STREAM.as_bytes()), expected());
    }

    #[test]
    fn an_unfinished_frame_waits_for_its_blank_line() {
        let mut parser = SseParser::new();
        assert!(parser.feed(b"event: state\ndata: x\n").is_empty());
        assert_eq!(parser.feed(b"\n").len(), 1);
    }

    proptest! {
        #[test]
        fn chunking_does_not_change_the_frames(cuts in proptest::collection::vec(0usize..200, 0..12)) {
            let bytes = STREAM.as_bytes();
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c % (bytes.len() + 1)).collect();
            cuts.sort_unstable();
            let mut parser = SseParser::new();
            let mut frames = Vec::new();
            let mut start = 0;
            for cut in cuts.into_iter().chain([bytes.len()]) {
                frames.extend(parser.feed(&bytes[start..cut]));
                start = cut;
            }
            prop_assert_eq!(frames, expected());
        }
    }
}
