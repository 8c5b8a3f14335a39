//! One context per `POST /v1/messages`, filled in as the request is
//! understood (its model, where it goes, whether it streams), and one place
//! that writes the request's summary line: when the last holder of the
//! context lets go of it — the handler, or the pump of a committed stream —
//! whether the request was answered, failed, or abandoned by its client.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use crate::logging::RequestSummary;

/// Status logged for a request whose client left before any answer (as
/// nginx logs it); the client never sees it.
pub const CLIENT_CLOSED: u16 = 499;

/// What is known of a request, shared by whoever works on it.
pub struct Context {
    pub request_id: String,
    pub started: Instant,
    known: Mutex<Known>,
}

#[derive(Default)]
struct Known {
    client_model: Option<String>,
    /// The Codex model, with the reasoning effort when one is set.
    upstream_model: Option<String>,
    stream: bool,
    outcome: Option<Outcome>,
}

/// How the request ended.
enum Outcome {
    /// The client has its whole answer. Input tokens count cached ones too.
    Answered { input_tokens: u64, output_tokens: u64 },
    /// The client got an error answer, or a stream that ended with an
    /// `error` event (status 200).
    Failed { status: u16, message: String },
    /// The client left after its stream began.
    Left { status: u16 },
}

impl Context {
    pub fn new(request_id: String) -> Arc<Self> {
        Arc::new(Context { request_id, started: Instant::now(), known: Mutex::new(Known::default()) })
    }

    fn known(&self) -> MutexGuard<'_, Known> {
        self.known.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The client's request was parsed.
    pub fn asked(&self, client_model: &str, stream: bool) {
        let mut known = self.known();
        known.client_model = Some(client_model.to_owned());
        known.stream = stream;
    }

    /// The request was planned for this Codex model.
    pub fn planned(&self, upstream_model: String) {
        self.known().upstream_model = Some(upstream_model);
    }

    pub fn client_model(&self) -> String {
        self.known().client_model.clone().unwrap_or_default()
    }

    pub fn answered(&self, input_tokens: u64, output_tokens: u64) {
        self.known().outcome = Some(Outcome::Answered { input_tokens, output_tokens });
    }

    pub fn failed(&self, status: u16, message: &str) {
        self.known().outcome = Some(Outcome::Failed { status, message: message.to_owned() });
    }

    /// The client left while its stream (status 200) was being sent.
    pub fn left(&self) {
        self.known().outcome = Some(Outcome::Left { status: 200 });
    }
}

impl Drop for Context {
    /// The one summary line of the request (and, for failures, why).
    fn drop(&mut self) {
        let known = self.known.get_mut().unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut summary = RequestSummary {
            request_id: &self.request_id,
            client_model: known.client_model.as_deref().unwrap_or("-"),
            upstream_model: known.upstream_model.as_deref().unwrap_or("-"),
            stream: known.stream,
            status: CLIENT_CLOSED,
            latency: self.started.elapsed(),
            input_tokens: None,
            output_tokens: None,
        };
        match &known.outcome {
            Some(Outcome::Answered { input_tokens, output_tokens }) => {
                summary.status = 200;
                summary.input_tokens = Some(*input_tokens);
                summary.output_tokens = Some(*output_tokens);
                summary.log();
            }
            Some(Outcome::Failed { status, message }) => {
                summary.status = *status;
                summary.log();
                tracing::warn!(request_id = %self.request_id, status, error = %message, "request failed");
            }
            Some(Outcome::Left { status }) => {
                summary.status = *status;
                summary.log();
                tracing::info!(request_id = %self.request_id, "client disconnected; upstream request cancelled");
            }
            None => {
                summary.log();
                tracing::info!(request_id = %self.request_id, "client disconnected before its answer; upstream request cancelled");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// Log output, kept for the test to read.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Captured {
        fn summaries(&self) -> Vec<String> {
            let text = String::from_utf8(self.0.lock().unwrap().clone()).unwrap();
            text.lines().filter(|line| line.contains("codexd::request")).map(str::to_owned).collect()
        }
    }

    type Case = (&'static str, fn(&Context), &'static str);

    #[test]
    fn one_summary_line_when_the_last_holder_lets_go_however_the_request_ended() {
        let table: [Case; 4] = [
            ("answered", |c| c.answered(120, 9), "status=200"),
            ("failed", |c| c.failed(529, "busy"), "status=529"),
            ("left mid-stream", |c| c.left(), "status=200"),
            ("abandoned before any answer", |_| {}, "status=499"),
        ];
        for (name, end, status) in table {
            let captured = Captured::default();
            let writer = captured.clone();
            let subscriber = tracing_subscriber::fmt().with_writer(move || writer.clone()).with_ansi(false).finish();
            tracing::subscriber::with_default(subscriber, || {
                let context = Context::new("req_1".into());
                context.asked("claude-sonnet-4-5", true);
                context.planned("gpt-5.6-terra (medium)".into());
                let pump = context.clone();
                end(&pump);
                drop(context);
                assert_eq!(captured.summaries(), Vec::<String>::new(), "{name}: not before the last holder");
                drop(pump);
            });
            let lines = captured.summaries();
            assert_eq!(lines.len(), 1, "{name}: {lines:?}");
            assert!(lines[0].contains("req_1") && lines[0].contains("gpt-5.6-terra"), "{name}: {}", lines[0]);
            assert!(lines[0].contains(status), "{name}: {} lacks {status:?}", lines[0]);
        }
    }
}
