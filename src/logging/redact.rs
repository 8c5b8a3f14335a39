//! Secret redaction and escaping for log lines: the last guard between a
//! token and a log file. Bearer tokens, JWTs, API keys and
//! `…_token=`/`"…_token":` values are replaced by `[redacted]` before a
//! formatted line is written, and every control character inside the line is
//! escaped (`\n` becomes the two characters `\` `n`), so one event is one line
//! whatever a client put in the strings it carries.

use std::borrow::Cow;
use std::io;
use std::sync::LazyLock;

use regex_lite::Regex;
use tracing_subscriber::fmt::MakeWriter;

/// Patterns and their replacements, applied in order. With `regex_lite`,
/// `\b` and `\s` are ASCII classes: a token next to a non-ASCII letter is
/// still cut off at the letter and redacted (the fuller `regex` engines
/// were most of the code a daemon touched at start, for a handful of short
/// log lines).
static RULES: LazyLock<Vec<(Regex, &'static str)>> = LazyLock::new(|| {
    [
        // `Authorization: Bearer <token>`, in any case.
        (r"(?i)\b(bearer\s+)[A-Za-z0-9._~+/=-]+", "${1}[redacted]"),
        // `access_token=…`, `"refresh_token": "…"`, `x-api-key: …` and friends.
        (
            r#"(?i)("?\b(?:access_token|refresh_token|id_token|api[_-]?key|x-api-key|code_verifier|client_secret|password)"?\s*[:=]\s*"?)[^"\s,&;}]+"#,
            "${1}[redacted]",
        ),
        // Any JWT (header.payload.signature, base64url, header starting `{"`).
        (r"\beyJ[A-Za-z0-9_-]{6,}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*", "[redacted-jwt]"),
        // OpenAI and Anthropic style keys.
        (r"\bsk-[A-Za-z0-9_-]{16,}", "[redacted-key]"),
    ]
    .into_iter()
    .map(|(pattern, replacement)| (Regex::new(pattern).expect("redaction patterns are valid"), replacement))
    .collect()
});

/// `line` with everything that looks like a secret replaced.
pub fn redact(line: &str) -> Cow<'_, str> {
    RULES.iter().fold(Cow::Borrowed(line), |text, (pattern, replacement)| {
        match pattern.replace_all(&text, *replacement) {
            Cow::Borrowed(_) => text,
            Cow::Owned(changed) => Cow::Owned(changed),
        }
    })
}

/// `line` with every control character escaped except one final newline
/// (and, when `keep_esc`, the ESC of a terminal's colours), plus the Unicode
/// line and paragraph separators that some viewers break lines at.
pub fn escape_controls(line: &str, keep_esc: bool) -> Cow<'_, str> {
    let (body, end) = match line.strip_suffix('\n') {
        Some(body) => (body, "\n"),
        None => (line, ""),
    };
    let special = |c: char| (c.is_control() && !(keep_esc && c == '\x1b')) || matches!(c, '\u{2028}' | '\u{2029}');
    if !body.contains(special) {
        return Cow::Borrowed(line);
    }
    let mut out = String::with_capacity(line.len() + 8);
    for c in body.chars() {
        if special(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out.push_str(end);
    Cow::Owned(out)
}

/// A [`MakeWriter`] whose writers pass every write through [`redact`] and
/// [`escape_controls`].
///
/// `tracing_subscriber::fmt` writes each event with one `write_all` of the
/// whole formatted line, so a pattern is never cut in two and only the line's
/// own final newline is kept.
#[derive(Debug, Clone)]
pub struct Redacting<M> {
    inner: M,
    keep_esc: bool,
}

impl<M> Redacting<M> {
    /// Wrap a writer factory for a file: every control character is escaped.
    pub fn new(inner: M) -> Self {
        Redacting { inner, keep_esc: false }
    }

    /// Wrap a writer factory for a terminal, whose lines keep the ESC of the
    /// formatter's colours (tracing-subscriber escapes ESC in field values).
    pub fn console(inner: M) -> Self {
        Redacting { inner, keep_esc: true }
    }
}

impl<'a, M: MakeWriter<'a>> MakeWriter<'a> for Redacting<M> {
    type Writer = RedactingWriter<M::Writer>;

    fn make_writer(&'a self) -> Self::Writer {
        RedactingWriter { inner: self.inner.make_writer(), keep_esc: self.keep_esc }
    }
}

/// The writer made by [`Redacting`].
#[derive(Debug)]
pub struct RedactingWriter<W> {
    inner: W,
    keep_esc: bool,
}

impl<W: io::Write> io::Write for RedactingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        let redacted = redact(&text);
        self.inner.write_all(escape_controls(&redacted, self.keep_esc).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    const JWT: &str = "eyJhbGciOiJSUzI1NiJ9.eyJlbWFpbCI6ImFAYi5jIn0.c2lnbmF0dXJl";

    #[test]
    fn secrets_are_replaced() {
        let cases = [
            ("authorization: Bearer abc.def-123", "authorization: Bearer [redacted]"),
            ("AUTHORIZATION: bearer xyz", "AUTHORIZATION: bearer [redacted]"),
            (r#"{"access_token":"opaque-value","n":1}"#, r#"{"access_token":"[redacted]","n":1}"#),
            (r#"{"refresh_token": "rt_123"}"#, r#"{"refresh_token": "[redacted]"}"#),
            (
                "grant_type=refresh_token&refresh_token=rt_1&client_id=x",
                "grant_type=refresh_token&refresh_token=[redacted]&client_id=x",
            ),
            ("x-api-key: sk-ant-api03-abcdefghijklmnop", "x-api-key: [redacted]"),
            ("key sk-proj-abcdefghijklmnopqrstu end", "key [redacted-key] end"),
            (&format!("id {JWT} end"), "id [redacted-jwt] end"),
            ("code_verifier=abc123", "code_verifier=[redacted]"),
            // Word boundaries are ASCII ones: a non-ASCII letter next to a
            // secret does not hide it.
            ("ébearer abc", "ébearer [redacted]"),
            (&format!("ñ{JWT}"), "ñ[redacted-jwt]"),
            ("Ωsk-proj-abcdefghijklmnopqrstu", "Ω[redacted-key]"),
        ];
        for (input, expected) in cases {
            assert_eq!(redact(input), expected, "input: {input}");
        }
    }

    #[test]
    fn ordinary_lines_are_untouched_and_not_copied() {
        for line in [
            "request req_1 claude-sonnet-4-5 -> gpt-5.2-codex stream status=200 latency_ms=12",
            "codexd listening host=127.0.0.1 port=19080",
            "the token endpoint answered 400",
            "input_tokens=12 output_tokens=7",
        ] {
            assert!(matches!(redact(line), Cow::Borrowed(_)), "changed: {line}");
        }
    }

    #[test]
    fn control_characters_inside_a_line_are_escaped() {
        assert_eq!(escape_controls("model=claude-x\ntouch x\n", false), "model=claude-x\\ntouch x\n");
        assert_eq!(escape_controls("a\rb\tc\u{7}d\u{2028}e", false), "a\\rb\\tc\\u{7}d\\u{2028}e");
        assert_eq!(escape_controls("\x1b[2mdim\x1b[0m\n", true), "\x1b[2mdim\x1b[0m\n");
        assert_eq!(escape_controls("\x1b[2m\n", false), "\\u{1b}[2m\n");
        assert!(matches!(escape_controls("plain line\n", false), Cow::Borrowed(_)));
    }

    #[test]
    fn the_writer_redacts_and_reports_the_whole_input_written() {
        let make = Redacting::new(Vec::<u8>::new);
        let mut writer = make.make_writer();
        let input = b"Bearer secret-token\n";
        assert_eq!(writer.write(input).unwrap(), input.len());
        assert_eq!(String::from_utf8(writer.inner).unwrap(), "Bearer [redacted]\n");
        let mut writer = make.make_writer();
        writer.write_all(b"model=\"a\nb\"\n").unwrap();
        assert_eq!(String::from_utf8(writer.inner).unwrap(), "model=\"a\\nb\"\n");
    }
}
