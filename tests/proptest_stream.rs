//! Property tests of the stream side (issue 6, item 3): for any chunking of
//! every recorded upstream stream under `tests/fixtures/` — and of the same
//! streams cut short, with CRLF line ends, or with whole events dropped,
//! repeated or swapped — `codex::sse::decode` + `StreamTranslator` produce a
//! valid Anthropic event sequence: `message_start`, blocks opened and closed
//! in order, then `message_delta` + `message_stop`, or an `error` event.
//!
//! The grammar is the one the fuzz targets use (`fuzz/src/grammar.rs`), so
//! both hold the translator to the same rules.

#[path = "../fuzz/src/grammar.rs"]
mod grammar;

use std::path::Path;
use std::sync::LazyLock;

use bytes::Bytes;
use codexd::anthropic::error::ErrorKind;
use codexd::anthropic::response::StreamEvent;
use codexd::codex::sse::decode;
use codexd::translate::response::Accumulator;
use codexd::translate::stream::{StreamTranslator, CUT_SHORT};
use futures_util::{stream, FutureExt, StreamExt};
use proptest::prelude::*;
use proptest::sample::Index;

use grammar::{check_sequence, check_tool_inputs, Ending, Outline};

/// Every recorded upstream stream: `(file name, body)`.
static FIXTURES: LazyLock<Vec<(String, String)>> = LazyLock::new(load_fixtures);

fn load_fixtures() -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut fixtures = Vec::new();
    for dir in [root.clone(), root.join("streams")] {
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.expect("directory entry").path();
            if path.extension().is_some_and(|ext| ext == "sse") {
                let name = path.file_name().expect("file name").to_string_lossy().into_owned();
                fixtures.push((name, std::fs::read_to_string(&path).expect("fixture is UTF-8 text")));
            }
        }
    }
    fixtures.sort();
    assert!(fixtures.len() >= 15, "expected the recorded streams under {}", root.display());
    fixtures
}

/// Decode and translate one body the way the server does: every decoded
/// item through `on_decoded`, then `finish(None)`.
fn translate(chunks: &[&[u8]]) -> Vec<StreamEvent> {
    let body = stream::iter(chunks.iter().map(|chunk| Ok::<_, String>(Bytes::copy_from_slice(chunk))));
    let decoded = decode(body).collect::<Vec<_>>().now_or_never().expect("an in-memory body never waits");
    let mut translator = StreamTranslator::new("msg_prop".to_owned(), "claude-sonnet-4-5".to_owned());
    let mut out: Vec<StreamEvent> = decoded.into_iter().flat_map(|item| translator.on_decoded(item)).collect();
    out.extend(translator.finish(None));
    out
}

/// Cut `bytes` at the given positions (any order, duplicates allowed).
fn cut<'a>(bytes: &'a [u8], cuts: &[Index]) -> Vec<&'a [u8]> {
    let mut at: Vec<usize> = cuts.iter().map(|index| index.index(bytes.len() + 1)).collect();
    at.sort_unstable();
    let mut chunks = Vec::with_capacity(at.len() + 1);
    let mut start = 0;
    for end in at.into_iter().chain([bytes.len()]) {
        chunks.push(&bytes[start..end]);
        start = end;
    }
    chunks
}

/// The grammar, or a test failure that shows the events.
fn valid(events: &[StreamEvent]) -> Result<Outline, TestCaseError> {
    check_sequence(events).map_err(|problem| TestCaseError::fail(format!("{problem}\n{events:#?}")))
}

/// The non-streaming fold of the same events ends the same way.
fn fold_agrees(events: &[StreamEvent], outline: &Outline) -> Result<(), TestCaseError> {
    let mut accumulator = Accumulator::new();
    for event in events {
        accumulator.push(event);
    }
    match (accumulator.finish(), outline.ending) {
        (Ok(message), Ending::Stop(reason)) => {
            prop_assert_eq!(message.stop_reason, Some(reason));
            prop_assert_eq!(message.content.len(), outline.blocks.len());
        }
        (Err(err), Ending::Error(kind)) => prop_assert_eq!(err.kind, kind),
        (folded, ending) => prop_assert!(false, "the stream ended with {:?} but folds to {:?}", ending, folded),
    }
    Ok(())
}

/// The SSE frames of a body (each without its blank line).
fn frames(body: &str) -> Vec<&str> {
    body.split("\n\n").filter(|frame| !frame.trim().is_empty()).collect()
}

/// One change to a recorded stream, at the level of whole events.
#[derive(Debug, Clone)]
enum Edit {
    Drop(Index),
    Repeat(Index),
    Swap(Index, Index),
    Truncate(Index),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        any::<Index>().prop_map(Edit::Drop),
        any::<Index>().prop_map(Edit::Repeat),
        (any::<Index>(), any::<Index>()).prop_map(|(a, b)| Edit::Swap(a, b)),
        any::<Index>().prop_map(Edit::Truncate),
    ]
}

fn apply(frames: &mut Vec<&str>, edit: &Edit) {
    if frames.is_empty() {
        return;
    }
    match edit {
        Edit::Drop(at) => {
            frames.remove(at.index(frames.len()));
        }
        Edit::Repeat(at) => {
            let at = at.index(frames.len());
            frames.insert(at, frames[at]);
        }
        Edit::Swap(a, b) => {
            let (a, b) = (a.index(frames.len()), b.index(frames.len()));
            frames.swap(a, b);
        }
        Edit::Truncate(at) => frames.truncate(at.index(frames.len() + 1)),
    }
}

/// `cut_short` is the translation of a prefix of the body `whole` came
/// from: it equals `whole`, or it is a prefix of `whole` ended early by the
/// [`CUT_SHORT`] error (after closing the block that was open).
fn is_cut_short_version(cut_short: &[StreamEvent], whole: &[StreamEvent]) -> Result<(), TestCaseError> {
    if cut_short == whole {
        return Ok(());
    }
    let Some((StreamEvent::Error { error }, head)) = cut_short.split_last() else {
        return Err(TestCaseError::fail(format!(
            "a cut stream that differs from the whole must end in error: {cut_short:#?}"
        )));
    };
    prop_assert_eq!(error.kind, ErrorKind::ApiError);
    prop_assert!(error.message.starts_with(CUT_SHORT), "unexpected error {:?}", error.message);
    let closed_early =
        matches!(head.last(), Some(StreamEvent::ContentBlockStop { .. })) && whole.starts_with(&head[..head.len() - 1]);
    prop_assert!(
        whole.starts_with(head) || closed_early,
        "the cut stream is not a prefix of the whole:\n{:#?}\nvs\n{:#?}",
        cut_short,
        whole
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Any chunking gives the same, valid translation as the whole body,
    /// with tool inputs that are JSON objects and a fold that agrees.
    #[test]
    fn any_chunking_translates_validly_and_identically(
        fixture in 0..FIXTURES.len(),
        cuts in prop::collection::vec(any::<Index>(), 0..48),
    ) {
        let (name, body) = &FIXTURES[fixture];
        let whole = translate(&[body.as_bytes()]);
        let chunked = translate(&cut(body.as_bytes(), &cuts));
        prop_assert_eq!(&chunked, &whole, "{}: chunking changed the translation", name);
        let outline = valid(&chunked)?;
        check_tool_inputs(&chunked).map_err(TestCaseError::fail)?;
        fold_agrees(&chunked, &outline)?;
    }

    /// CRLF line ends, cut anywhere, change nothing.
    #[test]
    fn crlf_line_ends_change_nothing(
        fixture in 0..FIXTURES.len(),
        cuts in prop::collection::vec(any::<Index>(), 0..48),
    ) {
        let (name, body) = &FIXTURES[fixture];
        let crlf = body.replace('\n', "\r\n");
        prop_assert_eq!(translate(&cut(crlf.as_bytes(), &cuts)), translate(&[body.as_bytes()]), "{}", name);
    }

    /// A body cut short at any byte, in any chunks, still translates to a
    /// valid stream: the whole translation, or a prefix of it that ends in
    /// the cut-short error.
    #[test]
    fn a_body_cut_at_any_byte_ends_validly(
        fixture in 0..FIXTURES.len(),
        end in any::<Index>(),
        cuts in prop::collection::vec(any::<Index>(), 0..16),
    ) {
        let (_, body) = &FIXTURES[fixture];
        let prefix = &body.as_bytes()[..end.index(body.len() + 1)];
        let events = translate(&cut(prefix, &cuts));
        let outline = valid(&events)?;
        fold_agrees(&events, &outline)?;
        is_cut_short_version(&events, &translate(&[body.as_bytes()]))?;
    }

    /// Whole events dropped, repeated, swapped or cut off — things a real
    /// upstream should never do — still give a valid stream, chunked or not.
    /// (Tool inputs may then be broken JSON: the upstream's own arguments are.)
    #[test]
    fn edited_event_sequences_still_translate_validly(
        fixture in 0..FIXTURES.len(),
        edits in prop::collection::vec(edit(), 1..6),
        cuts in prop::collection::vec(any::<Index>(), 0..16),
    ) {
        let (_, body) = &FIXTURES[fixture];
        let mut edited = frames(body);
        for edit in &edits {
            apply(&mut edited, edit);
        }
        let edited: String = edited.iter().map(|frame| format!("{frame}\n\n")).collect();
        let events = translate(&cut(edited.as_bytes(), &cuts));
        prop_assert_eq!(&events, &translate(&[edited.as_bytes()]), "chunking changed the translation");
        let outline = valid(&events)?;
        fold_agrees(&events, &outline)?;
    }

    /// Two recorded streams glued together: everything after the first
    /// terminal event is ignored.
    #[test]
    fn nothing_after_a_terminal_event_counts(
        first in 0..FIXTURES.len(),
        second in 0..FIXTURES.len(),
        cuts in prop::collection::vec(any::<Index>(), 0..16),
    ) {
        let (first_name, first_body) = &FIXTURES[first];
        let glued = format!("{first_body}\n{}", FIXTURES[second].1);
        let events = translate(&cut(glued.as_bytes(), &cuts));
        valid(&events)?;
        let alone = translate(&[first_body.as_bytes()]);
        // A first stream that was cut short goes on into the second one.
        let cut_short = matches!(alone.last(), Some(StreamEvent::Error { error }) if error.message == CUT_SHORT);
        if !cut_short {
            prop_assert_eq!(events, alone, "{}", first_name);
        }
    }
}

/// The grammar used above rejects what it must, so the properties can fail.
#[test]
fn the_grammar_rejects_broken_streams() {
    use codexd::anthropic::response::{ContentBlock, Delta, Message, MessageDelta, MessageDeltaUsage, StopReason};
    let start = StreamEvent::MessageStart { message: Message::new("m", "x") };
    let text = |index| StreamEvent::ContentBlockStart { index, content_block: ContentBlock::empty_text() };
    let tool = |index| StreamEvent::ContentBlockStart {
        index,
        content_block: ContentBlock::ToolUse { id: "c".into(), name: "n".into(), input: serde_json::json!({}) },
    };
    let delta = |index| StreamEvent::ContentBlockDelta { index, delta: Delta::TextDelta { text: "t".into() } };
    let stop = |index| StreamEvent::ContentBlockStop { index };
    let end = |reason| StreamEvent::MessageDelta {
        delta: MessageDelta { stop_reason: Some(reason), ..MessageDelta::default() },
        usage: MessageDeltaUsage::default(),
    };
    let end_turn = end(StopReason::EndTurn);
    let done = StreamEvent::MessageStop;
    let broken: Vec<(&str, Vec<StreamEvent>)> = vec![
        ("empty", vec![]),
        ("no message_start", vec![text(0), stop(0), end_turn.clone(), done.clone()]),
        ("no ending", vec![start.clone(), text(0), stop(0)]),
        ("index gap", vec![start.clone(), text(1), stop(1), end_turn.clone(), done.clone()]),
        ("interleaved", vec![start.clone(), text(0), text(1), stop(1), stop(0), end_turn.clone(), done.clone()]),
        ("delta after stop", vec![start.clone(), text(0), stop(0), delta(0), end_turn.clone(), done.clone()]),
        ("never stopped", vec![start.clone(), text(0), end_turn.clone(), done.clone()]),
        (
            "text delta in a tool block",
            vec![start.clone(), tool(0), delta(0), stop(0), end(StopReason::ToolUse), done.clone()],
        ),
        (
            "tool_use ending without a tool",
            vec![start.clone(), text(0), stop(0), end(StopReason::ToolUse), done.clone()],
        ),
        ("end_turn after a tool", vec![start.clone(), tool(0), stop(0), end_turn.clone(), done.clone()]),
        ("event after message_stop", vec![start.clone(), end_turn.clone(), done.clone(), text(0)]),
    ];
    for (why, events) in broken {
        assert!(check_sequence(&events).is_err(), "accepted a stream with {why}");
    }
    let good =
        vec![start, StreamEvent::Ping, text(0), delta(0), stop(0), tool(1), stop(1), end(StopReason::ToolUse), done];
    assert_eq!(check_sequence(&good).map(|outline| outline.blocks), Ok(vec!["text", "tool_use"]));
}
