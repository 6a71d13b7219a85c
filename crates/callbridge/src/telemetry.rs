//! Structured logs: `LOG_FORMAT` picks json or pretty, `RUST_LOG` the levels. Every line is
//! written through [`Masked`], so no email or phone number reaches a log whole, whichever code
//! (ours, or a library quoting a request) wrote it.

use std::io::{self, IsTerminal, Write};

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

use crate::config::LogFormat;
use crate::domain::mask;

const DEFAULT_FILTER: &str = "info";

/// Installs the global subscriber; a second call (tests start many apps) is a no-op.
pub fn init(format: LogFormat) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(Masked(io::stderr))
        // Colour codes only where a person reads them, never in files or pipes.
        .with_ansi(io::stderr().is_terminal());
    let _already_set = match format {
        LogFormat::Json => builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
        LogFormat::Pretty => builder.try_init(),
    };
}

/// Makes writers that mask emails and phone numbers in what they are given. The formatter
/// hands over one whole line per write, so nothing is split across two writes.
#[derive(Debug, Clone, Copy)]
pub struct Masked<M>(pub M);

impl<'a, M: MakeWriter<'a>> MakeWriter<'a> for Masked<M> {
    type Writer = MaskedWriter<M::Writer>;

    fn make_writer(&'a self) -> Self::Writer {
        MaskedWriter(self.0.make_writer())
    }
}

#[derive(Debug)]
pub struct MaskedWriter<W>(W);

impl<W: Write> Write for MaskedWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        self.0.write_all(mask::text(&text).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_is_masked_on_its_way_out() {
        let mut out = Vec::new();
        {
            let mut writer = MaskedWriter(&mut out);
            writer
                .write_all(b"rate limited key=otp-send:to:ada@example.com to=+14155550123\n")
                .unwrap();
        }
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "rate limited key=otp-send:to:a***@example.com to=+1415***0123\n"
        );
    }
}
